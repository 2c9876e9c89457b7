//! The scripts. Each is idempotent and prints compact output, so one event's cost does
//! not grow with the cluster (output caps: 24,000 characters of stdout on AWS, the last
//! 4,096 bytes on Azure).
//!
//! A join token never appears in a command's text, its output or any process's
//! arguments (which every process on the host can read in /proc): it travels in shell
//! variables, pipes and a request file only root can read, from the engine to the
//! parameter store and back to the engine's API as a request body on standard input.

use crate::cluster::Role;

use super::token_store::TokenStore;

/// Bumped whenever a script's behaviour or output changes.
pub const SCRIPT_VERSION: u32 = 6;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("{what} {value:?} is not safe to put in a script")]
    Unsafe { what: &'static str, value: String },
    #[error("a join needs at least one manager address")]
    NoManagers,
}

pub(crate) fn safe<'a>(
    what: &'static str,
    value: &'a str,
    extra: &[char],
) -> Result<&'a str, ScriptError> {
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

pub(crate) fn header(name: &str) -> String {
    format!("# swarmhook {name} v{SCRIPT_VERSION}\nset -u\n")
}

/// Precedes the engine's `Swarm` section (JSON) that a changing script prints last, so
/// its output is also the observation of what it achieved.
pub const ENGINE_MARKER: &str = "--- engine";
/// A changing script's exit code when the engine does not answer at all.
pub const ENGINE_DOWN_EXIT: i32 = 9;

/// Reads the engine's local state first (exit `ENGINE_DOWN_EXIT` when it does not answer).
fn engine_state_first() -> String {
    format!("state=$(docker info --format '{{{{.Swarm.LocalNodeState}}}}') || exit {ENGINE_DOWN_EXIT}\n")
}

/// Prints the engine's `Swarm` section after the marker, then exits with `$code`.
fn report_engine_and_exit() -> String {
    format!(
        "echo '{ENGINE_MARKER}'\ndocker info --format '{{{{json .Swarm}}}}' || exit {ENGINE_DOWN_EXIT}\nexit $code\n"
    )
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
/// many tasks the swarm wants running on it. With `until_ready`, the manager first waits
/// up to `READY_WAIT_SECONDS` for the node to be Ready (a node that has just joined), so
/// a join is confirmed in the same command that reports it.
pub fn swarm_view(node: Option<&str>, until_ready: bool) -> Result<String, ScriptError> {
    let mut script = header("swarm-view");
    if let (Some(node), true) = (node, until_ready) {
        let node = safe("node", node, &[])?;
        let tries = READY_WAIT_SECONDS * 5;
        script += &format!(
            "i=0; while [ $i -lt {tries} ]; do\n  [ \"$(docker node inspect '{node}' --format '{{{{.Status.State}}}}' 2>/dev/null)\" = ready ] && break\n  sleep 0.2; i=$((i + 1))\ndone\n"
        );
    }
    script += "docker node ls --filter role=manager --format '{{json .}}' || exit 7\n";
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

/// How long `swarm_view` waits for a node that has just joined to be Ready.
pub const READY_WAIT_SECONDS: u32 = 5;

/// The line after which `swarm_census` lists the nodes that are not serving.
pub const UNHEALTHY_MARKER: &str = "--- unhealthy";
/// At most this many not-serving nodes are listed (SSM keeps 24,000 characters of output).
pub const UNHEALTHY_LISTED: u32 = 200;

/// On a manager: how many nodes stand in each status and managers in each standing, as
/// `<count> <status> [<manager status>]` lines (a handful however large the swarm); then,
/// after `UNHEALTHY_MARKER`, the ids of the nodes not serving (not Ready, or a manager
/// neither Leader nor Reachable), at most `UNHEALTHY_LISTED`.
pub fn swarm_census() -> String {
    header("swarm-census")
        + "nodes=$(docker node ls --format '{{.ID}} {{.Status}} {{.ManagerStatus}}') || exit 7
"
        + "printf '%s\n' \"$nodes\" | cut -d' ' -f2- | sort | uniq -c
"
        + &format!("echo '{UNHEALTHY_MARKER}'
")
        + "printf '%s\n' \"$nodes\" | awk '$2 != \"Ready\" || ($3 != \"\" && $3 != \"Leader\" && $3 != \"Reachable\") {print $1}'"
        + &format!(" | head -n {UNHEALTHY_LISTED}
")
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

/// `docker swarm init`, unless the engine is already in a swarm; then the engine's state.
pub fn init_swarm(advertise_address: &str) -> Result<String, ScriptError> {
    let addr = safe("address", advertise_address, &[])?;
    Ok(header("init-swarm")
        + &engine_state_first()
        + "code=0\n"
        + "if [ \"$state\" = active ]; then echo already-active\n"
        + &format!(
            "elif docker swarm init --advertise-addr '{addr}' >/dev/null; then echo initialised\n"
        )
        + "else code=1; fi\n"
        + &report_engine_and_exit())
}

/// Joins if the engine is in no swarm: reads the role's token from its parameter (the
/// node's own identity) and tries each manager in turn; then prints the engine's state,
/// so one command both joins and reports what it achieved. An engine already in a swarm,
/// or joining, is left as it is. A join that times out may still complete in the
/// background: the caller reads the state rather than trusting the exit code.
///
/// The join goes to the engine's API (`POST /swarm/join`, what `docker swarm join` sends)
/// with the token in the body on standard input: the CLI would need it as an argument.
pub fn join_swarm(
    store: &TokenStore,
    role: Role,
    token_name: &str,
    managers: &[String],
) -> Result<String, ScriptError> {
    let read = store.read_line(token_name)?;
    if managers.is_empty() {
        return Err(ScriptError::NoManagers);
    }
    let addrs = managers
        .iter()
        .map(|m| safe("manager address", m, &[':']).map(|a| format!("'{a}'")))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    Ok(header(&format!("join-swarm-{role}"))
        + &engine_state_first()
        + &store.prelude()?
        + "join() {\n"
        // How long the read took is reported (the node's own share of a join's time).
        + "  began=$(date +%s%N)\n"
        + &read
        + "  echo \"token read in $(( ($(date +%s%N) - began) / 1000000 )) ms\"\n"
        // A token is letters, digits and dashes: safe inside the JSON below.
        + "  case \"$token\" in SWMTKN-*) ;; *) echo 'the parameter holds no join token' >&2; return 3 ;; esac\n"
        + "  case \"$token\" in *[!A-Za-z0-9-]*) echo 'the parameter holds no join token' >&2; return 3 ;; esac\n"
        + "  sock=${DOCKER_HOST:-unix:///var/run/docker.sock}; sock=${sock#unix://}\n"
        + "  out=$(mktemp)\n"
        + &format!("  for m in {addrs}; do\n")
        + "    case \"$m\" in *:*) target=\"$m\" ;; *) target=\"$m:2377\" ;; esac\n"
        + "    started=$(date +%s%N)\n"
        + "    http=$(printf '{\"ListenAddr\":\"0.0.0.0:2377\",\"RemoteAddrs\":[\"%s\"],\"JoinToken\":\"%s\"}' \"$target\" \"$token\" \\\n"
        + "      | curl -s -o \"$out\" -w '%{http_code}' --unix-socket \"$sock\" -H 'Content-Type: application/json' --data-binary @- http://localhost/swarm/join)\n"
        + "    if [ \"$http\" = 200 ]; then\n"
        + "      echo \"joined $target in $(( ($(date +%s%N) - started) / 1000000 )) ms\"; rm -f \"$out\"; return 0\n"
        + "    fi\n"
        + "    { echo \"joining $target: HTTP $http\"; cat \"$out\"; echo; } | sed 's/SWMTKN-[A-Za-z0-9-]*/<token>/g' >&2\n"
        + "  done\n"
        + "  rm -f \"$out\"\n"
        + "  return 4\n"
        + "}\n"
        + "code=0\n"
        + "if [ \"$state\" = inactive ]; then join; code=$?; else echo \"$state\"; fi\n"
        + &report_engine_and_exit())
}

/// On a manager: writes both join tokens to their SecureString parameters. The tokens go
/// from the engine to the parameter store on the node itself, in the request's JSON in a
/// file only root can read (never an argument).
pub fn publish_tokens(
    store: &TokenStore,
    worker_name: &str,
    manager_name: &str,
) -> Result<String, ScriptError> {
    let put = |role: &str, name: &str| -> Result<String, ScriptError> {
        Ok(
            format!("token=$(docker swarm join-token -q {role}) || exit 5\n")
                + &store.write_lines(name)?,
        )
    };
    // The request is a file only root can read (mktemp makes it 0600), gone on exit.
    Ok(header("publish-tokens")
        + &store.prelude()?
        + "request=$(mktemp) || exit 5\ntrap 'rm -f \"$request\"' EXIT\n"
        + &put("worker", worker_name)?
        + &put("manager", manager_name)?
        + "echo published\n")
}

/// On a manager: replaces both join tokens (the old ones stop working at once), then
/// publishes the new ones as `publish_tokens` does.
pub fn rotate_tokens(
    store: &TokenStore,
    worker_name: &str,
    manager_name: &str,
) -> Result<String, ScriptError> {
    let publish = publish_tokens(store, worker_name, manager_name)?;
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

/// On the leaving node: leaves the swarm (a worker by now), unless it is out already;
/// then the engine's state.
pub fn leave_swarm() -> String {
    header("leave-swarm")
        + &engine_state_first()
        + "code=0\n"
        + "if [ \"$state\" = inactive ]; then echo already-inactive\n"
        + "elif docker swarm leave >/dev/null; then echo left\n"
        + "else code=1; fi\n"
        + &report_engine_and_exit()
}

/// On a manager: removes a node that is down. Without `--force`, the swarm refuses a
/// node that is not down, which is what is wanted.
pub fn remove_node(node_id: &str) -> Result<String, ScriptError> {
    let node = safe("node", node_id, &[])?;
    Ok(header("remove-node") + &format!("docker node rm '{node}' >/dev/null && echo removed\n"))
}
