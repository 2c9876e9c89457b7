//! The scripts. Each is idempotent and prints compact output, so one event's cost does
//! not grow with the cluster (output caps: 24,000 characters of stdout on AWS, the last
//! 4,096 bytes on Azure).
//!
//! A join token never appears in a command's text, its output or any process's
//! arguments (which every process on the host can read in /proc): it travels in shell
//! variables, pipes and a request file only root can read, from the engine to the
//! parameter store and back to the engine's API as a request body on standard input.

use crate::cluster::Role;

/// Bumped whenever a script's behaviour or output changes.
pub const SCRIPT_VERSION: u32 = 4;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("{what} {value:?} is not safe to put in a script")]
    Unsafe { what: &'static str, value: String },
    #[error("a join needs at least one manager address")]
    NoManagers,
}

fn safe<'a>(what: &'static str, value: &'a str, extra: &[char]) -> Result<&'a str, ScriptError> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || extra.contains(&c));
    if ok {
        Ok(value)
    } else {
        Err(ScriptError::Unsafe {
            what,
            value: value.to_owned(),
        })
    }
}

fn header(name: &str) -> String {
    format!("# swarmhook {name} v{SCRIPT_VERSION}\nset -u\n")
}

/// Prints the engine's `Swarm` section as JSON; fails when the engine does not answer.
pub fn probe_engine() -> String {
    header("probe-engine") + "docker info --format '{{json .Swarm}}'\n"
}

/// Separates the managers from the node in `swarm_view`'s output.
pub const NODE_MARKER: &str = "--- node";
/// Printed when `docker node inspect` failed (its error is on stderr).
pub const INSPECT_FAILED_MARKER: &str = "--- inspect-failed";
/// Precedes how many tasks the swarm wants running on the named node.
pub const TASKS_MARKER: &str = "--- tasks ";

/// On a manager, in one command: the swarm's managers (one JSON line each) and, when a
/// node is named (by id or hostname), that node as `docker node inspect` JSON and how
/// many tasks the swarm wants running on it.
pub fn swarm_view(node: Option<&str>) -> Result<String, ScriptError> {
    let mut script = header("swarm-view")
        + "docker node ls --filter role=manager --format '{{json .}}' || exit 7\n";
    if let Some(node) = node {
        let node = safe("node", node, &[])?;
        script += &format!("echo '{NODE_MARKER}'\n");
        script += &format!(
            "docker node inspect '{node}' --format '{{{{json .}}}}' || echo '{INSPECT_FAILED_MARKER}'\n"
        );
        script += &format!(
            "echo \"{TASKS_MARKER}$(docker node ps '{node}' --filter desired-state=running -q 2>/dev/null | wc -l)\"\n"
        );
    }
    Ok(script)
}

/// On a manager: how many nodes stand in each status and managers in each standing, as
/// `<count> <status> [<manager status>]` lines: a handful of lines however large the swarm.
pub fn swarm_census() -> String {
    header("swarm-census")
        + "nodes=$(docker node ls --format '{{.Status}} {{.ManagerStatus}}') || exit 7
" + "printf '%s\n' \"$nodes\" | sort | uniq -c
"
}

/// On a manager: every service's name, published ports and labels, one JSON object per
/// line (~200 bytes a service: SSM's 24,000-character cap holds ~120 services).
pub fn published_ports() -> String {
    header("published-ports")
        + "ids=$(docker service ls -q) || exit 7
"
        + "[ -n \"$ids\" ] || exit 0
"
        + "docker service inspect --format '{\"name\":{{json .Spec.Name}},\"ports\":{{json .Endpoint.Ports}},\"labels\":{{json .Spec.Labels}}}' $ids
"
}

/// `docker swarm init`, unless the engine is already in a swarm.
pub fn init_swarm(advertise_address: &str) -> Result<String, ScriptError> {
    let addr = safe("address", advertise_address, &[])?;
    Ok(header("init-swarm")
        + "state=$(docker info --format '{{.Swarm.LocalNodeState}}')\n"
        + "if [ \"$state\" = active ]; then echo already-active; exit 0; fi\n"
        + &format!("docker swarm init --advertise-addr '{addr}' >/dev/null && echo initialised\n"))
}

/// Reads the role's token from its parameter (the node's own identity) and joins, trying
/// each manager in turn. A join that times out may still complete in the background: the
/// caller observes membership rather than trusting the exit code.
///
/// The join goes to the engine's API (`POST /swarm/join`, what `docker swarm join` sends)
/// with the token in the body on standard input: the CLI would need it as an argument.
pub fn join_swarm(
    role: Role,
    token_parameter: &str,
    managers: &[String],
) -> Result<String, ScriptError> {
    let param = safe("parameter name", token_parameter, &['/', '_'])?;
    if managers.is_empty() {
        return Err(ScriptError::NoManagers);
    }
    let addrs = managers
        .iter()
        .map(|m| safe("manager address", m, &[':']).map(|a| format!("'{a}'")))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    Ok(header(&format!("join-swarm-{role}"))
        + "state=$(docker info --format '{{.Swarm.LocalNodeState}}')\n"
        + "if [ \"$state\" = active ] || [ \"$state\" = pending ]; then echo \"$state\"; exit 0; fi\n"
        + &format!(
            "token=$(aws ssm get-parameter --name '{param}' --with-decryption --query Parameter.Value --output text) || exit 3\n"
        )
        // A token is letters, digits and dashes: safe inside the JSON below.
        + "case \"$token\" in SWMTKN-*) ;; *) echo 'the parameter holds no join token' >&2; exit 3 ;; esac\n"
        + "case \"$token\" in *[!A-Za-z0-9-]*) echo 'the parameter holds no join token' >&2; exit 3 ;; esac\n"
        + "sock=${DOCKER_HOST:-unix:///var/run/docker.sock}; sock=${sock#unix://}\n"
        + "out=$(mktemp)\n"
        + &format!("for m in {addrs}; do\n")
        + "  case \"$m\" in *:*) target=\"$m\" ;; *) target=\"$m:2377\" ;; esac\n"
        + "  started=$(date +%s%N)\n"
        + "  code=$(printf '{\"ListenAddr\":\"0.0.0.0:2377\",\"RemoteAddrs\":[\"%s\"],\"JoinToken\":\"%s\"}' \"$target\" \"$token\" \\\n"
        + "    | curl -s -o \"$out\" -w '%{http_code}' --unix-socket \"$sock\" -H 'Content-Type: application/json' --data-binary @- http://localhost/swarm/join)\n"
        + "  if [ \"$code\" = 200 ]; then\n"
        + "    echo \"joined $target in $(( ($(date +%s%N) - started) / 1000000 )) ms\"; rm -f \"$out\"; exit 0\n"
        + "  fi\n"
        + "  { echo \"joining $target: HTTP $code\"; cat \"$out\"; echo; } | sed 's/SWMTKN-[A-Za-z0-9-]*/<token>/g' >&2\n"
        + "done\n"
        + "rm -f \"$out\"\n"
        + "exit 4\n")
}

/// On a manager: writes both join tokens to their SecureString parameters. The tokens go
/// from the engine to the parameter store on the node itself, in the request's JSON in a
/// file only root can read (never an argument).
pub fn publish_tokens(
    worker_parameter: &str,
    manager_parameter: &str,
) -> Result<String, ScriptError> {
    let w = safe("parameter name", worker_parameter, &['/', '_'])?;
    let m = safe("parameter name", manager_parameter, &['/', '_'])?;
    let put = |role: &str, name: &str| {
        format!(
            "token=$(docker swarm join-token -q {role}) || exit 5\n\
             printf '{{\"Name\":\"%s\",\"Type\":\"SecureString\",\"Overwrite\":true,\"Value\":\"%s\"}}' '{name}' \"$token\" > \"$request\" || exit 5\n\
             aws ssm put-parameter --cli-input-json \"file://$request\" >/dev/null || exit 5\n"
        )
    };
    // The request is a file only root can read (mktemp makes it 0600), gone on exit.
    Ok(header("publish-tokens")
        + "request=$(mktemp) || exit 5\ntrap 'rm -f \"$request\"' EXIT\n"
        + &put("worker", w)
        + &put("manager", m)
        + "echo published\n")
}

/// On a manager: replaces both join tokens (the old ones stop working at once), then
/// publishes the new ones as `publish_tokens` does.
pub fn rotate_tokens(
    worker_parameter: &str,
    manager_parameter: &str,
) -> Result<String, ScriptError> {
    let publish = publish_tokens(worker_parameter, manager_parameter)?;
    let body = publish
        .split_once("set -u\n")
        .map(|(_, b)| b)
        .unwrap_or(&publish);
    Ok(header("rotate-tokens")
        + "docker swarm join-token --rotate -q worker >/dev/null || exit 6\n"
        + "docker swarm join-token --rotate -q manager >/dev/null || exit 6\n"
        + body)
}

/// On a manager: makes the node a worker (it leaves the Raft group). Idempotent.
pub fn demote_node(node_id: &str) -> Result<String, ScriptError> {
    let node = safe("node", node_id, &[])?;
    Ok(
        header("demote-node")
            + &format!("docker node demote '{node}' >/dev/null && echo demoted\n"),
    )
}

/// On a manager: no new tasks on the node, and its tasks move elsewhere. Idempotent.
pub fn drain_node(node_id: &str) -> Result<String, ScriptError> {
    let node = safe("node", node_id, &[])?;
    Ok(header("drain-node")
        + &format!("docker node update --availability drain '{node}' >/dev/null && echo drained\n"))
}

/// On the leaving node: leaves the swarm (a worker by now), unless it is out already.
pub fn leave_swarm() -> String {
    header("leave-swarm")
        + "state=$(docker info --format '{{.Swarm.LocalNodeState}}')\n"
        + "if [ \"$state\" = inactive ]; then echo already-inactive; exit 0; fi\n"
        + "docker swarm leave >/dev/null && echo left\n"
}

/// On a manager: removes a node that is down. Without `--force`, the swarm refuses a
/// node that is not down, which is what is wanted.
pub fn remove_node(node_id: &str) -> Result<String, ScriptError> {
    let node = safe("node", node_id, &[])?;
    Ok(header("remove-node") + &format!("docker node rm '{node}' >/dev/null && echo removed\n"))
}
