//! The console's scripts, run on a manager. Each prints a bounded amount however large
//! the swarm (SSM keeps 24,000 characters of output): counts, the unhealthy nodes first,
//! one page of nodes, and the services short of their replicas first. One `docker node
//! ls`, one `docker service ls` and one `docker service inspect` of the listed services:
//! a handful of engine API calls, not one per node.

use crate::engine::{header, safe, ScriptError};

/// Nodes on a page of the nodes' table (about 100 characters each).
pub const NODES_PER_PAGE: u32 = 40;
/// Not-serving nodes listed before the page.
pub const UNHEALTHY_LISTED: u32 = 25;
/// Services listed (about 400 characters each, with their details).
pub const SERVICES_LISTED: u32 = 30;
/// A service's tasks listed in its popup (its history included).
pub const TASKS_LISTED: u32 = 60;

pub(super) const COUNTS_MARKER: &str = "--- counts";
pub(super) const UNHEALTHY_MARKER: &str = "--- unhealthy";
/// Followed by the number of nodes.
pub(super) const NODES_MARKER: &str = "--- nodes ";
/// Followed by the number of services.
pub(super) const SERVICES_MARKER: &str = "--- services ";
pub(super) const DETAILS_MARKER: &str = "--- service-details";

const PICTURE: &str = r#"tab=$(printf '\t')
nodes=$(docker node ls --format '{{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}') || exit 7
echo '@COUNTS@'
printf '%s\n' "$nodes" | awk -F'\t' 'NF {print ($5 == "" ? "worker" : "manager") "\t" $3 "\t" $4}' | sort | uniq -c
echo '@UNHEALTHY@'
printf '%s\n' "$nodes" | awk -F'\t' 'NF && ($3 != "Ready" || $4 != "Active" || ($5 != "" && $5 != "Leader" && $5 != "Reachable"))' | head -n @UNHEALTHY_LISTED@
echo "@NODES@$(printf '%s\n' "$nodes" | grep -c .)"
printf '%s\n' "$nodes" | grep . | sort -t"$tab" -k2,2 | sed -n '@FIRST@,@LAST@p'
services=$(docker service ls --format '{{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}') || exit 7
echo "@SERVICES@$(printf '%s\n' "$services" | grep -c .)"
listed=$(printf '%s\n' "$services" | awk -F'\t' 'NF {split($4, r, "[/ ]"); print ((r[1] + 0 < r[2] + 0) ? 0 : 1) "\t" $0}' | sort -t"$tab" -k1,1n -k3,3 | cut -f2- | head -n @SERVICES_LISTED@)
[ -n "$listed" ] && printf '%s\n' "$listed"
echo '@DETAILS@'
ids=$(printf '%s\n' "$listed" | cut -f1)
[ -z "$ids" ] && exit 0
docker service inspect --format '{"id":{{json .ID}},"stack":{{json (index .Spec.Labels "com.docker.stack.namespace")}},"ports":{{json .Endpoint.Ports}},"update":{{json .UpdateStatus}}}' $ids || exit 7
"#;

/// On a manager: node counts, the unhealthy nodes, page `page` of the nodes by hostname,
/// and the services (see the markers).
pub fn swarm_picture_script(page: u32) -> String {
    let first = page.saturating_mul(NODES_PER_PAGE).saturating_add(1);
    let last = first.saturating_add(NODES_PER_PAGE - 1);
    header("swarm-picture")
        + &PICTURE
            .replace("@COUNTS@", COUNTS_MARKER)
            .replace("@UNHEALTHY@", UNHEALTHY_MARKER)
            .replace("@UNHEALTHY_LISTED@", &UNHEALTHY_LISTED.to_string())
            .replace("@NODES@", NODES_MARKER)
            .replace("@FIRST@", &first.to_string())
            .replace("@LAST@", &last.to_string())
            .replace("@SERVICES@", SERVICES_MARKER)
            .replace("@SERVICES_LISTED@", &SERVICES_LISTED.to_string())
            .replace("@DETAILS@", DETAILS_MARKER)
}

/// The exit code of `service_tasks_script` when the swarm has no such service.
pub(super) const NO_SUCH_SERVICE_EXIT: i32 = 3;

/// On a manager: the named service's tasks, newest first as `docker service ps` lists
/// them, at most `TASKS_LISTED`. The name must be one Docker allows for a service.
pub fn service_tasks_script(service: &str) -> Result<String, ScriptError> {
    let service = service_name(service)?;
    Ok(header("service-tasks")
        + &format!(
            "docker service inspect '{service}' --format '{{{{.ID}}}}' >/dev/null 2>&1 || exit {NO_SUCH_SERVICE_EXIT}\n"
        )
        + &format!(
            "tasks=$(docker service ps '{service}' --no-trunc --format '{{{{.ID}}}}\\t{{{{.Name}}}}\\t{{{{.Node}}}}\\t{{{{.DesiredState}}}}\\t{{{{.CurrentState}}}}\\t{{{{.Error}}}}') || exit 7\n"
        )
        + &format!("printf '%s\\n' \"$tasks\" | head -n {TASKS_LISTED}\n"))
}

/// A service's name as Docker allows it: letters, digits, `-`, `_` and `.`, starting with
/// a letter or digit, at most 63 characters.
pub(crate) fn service_name(name: &str) -> Result<&str, ScriptError> {
    let ok = name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(ScriptError::Unsafe {
            what: "service name",
            value: name.to_owned(),
        });
    }
    safe("service name", name, &['_'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_numbered_from_zero() {
        let script = swarm_picture_script(0);
        assert!(script.contains("sed -n '1,40p'"), "{script}");
        assert!(swarm_picture_script(2).contains("sed -n '81,120p'"));
        assert!(swarm_picture_script(u32::MAX).starts_with("# swarmhook swarm-picture"));
    }

    #[test]
    fn a_service_name_docker_would_refuse_never_reaches_a_script() {
        for bad in [
            "",
            "-x",
            "a b",
            "a'b",
            "a;rm -rf /",
            "$(id)",
            "x\ny",
            &"a".repeat(64),
        ] {
            assert!(service_tasks_script(bad).is_err(), "{bad:?}");
        }
        let script = service_tasks_script("web_1.prod-2").unwrap();
        assert!(
            script.contains("docker service ps 'web_1.prod-2'"),
            "{script}"
        );
    }
}
