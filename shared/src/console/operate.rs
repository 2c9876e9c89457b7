//! What an operator may do to the swarm from the console: deploy or update a stack,
//! remove one, scale a service, drain a node or make it active again. Each is checked
//! before it is built (names as Docker takes them, a bounded count, a compose file that
//! passed `check_compose`), runs as one script on the first manager whose engine answers,
//! and is answered with what Docker said. Values reach the script only as checked names,
//! numbers, or base64; nothing an operator typed is shell text.

use base64::Engine as _;

use super::compose::ComposeFile;
use super::scripts::service_name;
use super::ConsoleError;
use crate::cluster::StoreRecord;
use crate::engine::{header, safe, ScriptError};
use crate::ports::{ClusterStore, NodeEngine};

/// The most replicas the console sets a service to.
pub const MAX_REPLICAS: u32 = 1000;

/// The exit code of an operation's script when what it names is not in the swarm.
const NOT_FOUND_EXIT: i32 = 3;
/// The exit code when the manager's engine does not answer (another manager is asked).
const ENGINE_DOWN_EXIT: i32 = 9;
/// How much of Docker's answer is kept (the end, where the outcome is).
const SAID_KEPT: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Deploy { stack: String, compose: ComposeFile },
    RemoveStack { stack: String },
    Scale { service: String, replicas: u32 },
    Drain { node: String },
    Activate { node: String },
}

/// What an operation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The manager it ran on.
    pub manager: String,
    /// What Docker printed (its end, at most `SAID_KEPT` characters).
    pub said: String,
}

/// A stack's name as Docker takes it: letters, digits, `-` and `_`, starting with a
/// letter or digit, at most 40 characters (its services' names add to it).
pub fn stack_name(name: &str) -> Result<&str, ScriptError> {
    let ok = name.len() <= 40
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok || name.contains('.') {
        return Err(ScriptError::Unsafe {
            what: "stack name",
            value: name.to_owned(),
        });
    }
    safe("stack name", name, &['_'])
}

/// A node's id as the swarm gives it (25 lower-case letters and digits).
pub fn node_id(id: &str) -> Result<&str, ScriptError> {
    let ok = (10..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(id)
    } else {
        Err(ScriptError::Unsafe {
            what: "node id",
            value: id.to_owned(),
        })
    }
}

impl Operation {
    /// What it does, for the answer and the log.
    pub fn describe(&self) -> String {
        match self {
            Operation::Deploy { stack, compose } => format!(
                "deploy stack {stack} ({} service{})",
                compose.services.len(),
                if compose.services.len() == 1 { "" } else { "s" }
            ),
            Operation::RemoveStack { stack } => format!("remove stack {stack}"),
            Operation::Scale { service, replicas } => {
                format!("scale service {service} to {replicas}")
            }
            Operation::Drain { node } => format!("drain node {node}"),
            Operation::Activate { node } => format!("make node {node} active"),
        }
    }

    /// Its script; every value checked again here, whoever built the operation.
    pub fn script(&self) -> Result<String, ConsoleError> {
        let first = format!("docker info >/dev/null 2>&1 || exit {ENGINE_DOWN_EXIT}\n");
        Ok(match self {
            Operation::Deploy { stack, compose } => {
                let stack = stack_name(stack)?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(&compose.text);
                header("stack-deploy")
                    + &first
                    + "f=$(mktemp) || exit 7\n"
                    + &format!("printf '%s' '{encoded}' | base64 -d > \"$f\" || {{ rm -f \"$f\"; exit 7; }}\n")
                    + &format!("docker stack deploy --prune --resolve-image never -c \"$f\" '{stack}' 2>&1\n")
                    + "code=$?\nrm -f \"$f\"\nexit $code\n"
            }
            Operation::RemoveStack { stack } => {
                let stack = stack_name(stack)?;
                header("stack-remove")
                    + &first
                    + &format!(
                        "docker stack ls --format '{{{{.Name}}}}' | grep -qx '{stack}' || exit {NOT_FOUND_EXIT}\n"
                    )
                    + &format!("docker stack rm '{stack}' 2>&1\n")
            }
            Operation::Scale { service, replicas } => {
                let service = service_name(service)?;
                if *replicas > MAX_REPLICAS {
                    return Err(ConsoleError::Refused(format!(
                        "{replicas} replicas: at most {MAX_REPLICAS}"
                    )));
                }
                header("service-scale")
                    + &first
                    + &format!("docker service inspect '{service}' >/dev/null 2>&1 || exit {NOT_FOUND_EXIT}\n")
                    + &format!("docker service scale --detach '{service}={replicas}' 2>&1\n")
            }
            Operation::Drain { node } | Operation::Activate { node } => {
                let node = node_id(node)?;
                let availability = if matches!(self, Operation::Drain { .. }) {
                    "drain"
                } else {
                    "active"
                };
                header("node-availability")
                    + &first
                    + &format!("docker node inspect '{node}' >/dev/null 2>&1 || exit {NOT_FOUND_EXIT}\n")
                    + &format!("docker node update --availability {availability} '{node}' >/dev/null 2>&1 || exit 7\n")
                    + &format!("echo \"node $(docker node inspect '{node}' --format '{{{{.Description.Hostname}}}}') is now {availability}\"\n")
            }
        })
    }
}

fn tail(text: &str) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    let from = chars.len().saturating_sub(SAID_KEPT);
    chars[from..].iter().collect()
}

/// Runs `operation` on the first recorded manager whose engine answers.
pub async fn operate<S: ClusterStore, E: NodeEngine>(
    store: &S,
    engine: &E,
    operation: &Operation,
) -> Result<Outcome, ConsoleError> {
    let script = operation.script()?;
    let record: StoreRecord = store.load().await.map_err(ConsoleError::Store)?;
    for manager in &record.managers {
        let out =
            (engine.run(&manager.instance_id, &script).await).map_err(ConsoleError::Engine)?;
        let Some(out) = out else {
            continue;
        };
        match out.exit_code {
            0 => {
                return Ok(Outcome {
                    manager: manager.instance_id.clone(),
                    said: tail(&out.stdout),
                })
            }
            ENGINE_DOWN_EXIT => continue,
            NOT_FOUND_EXIT => {
                return Err(ConsoleError::Refused(format!(
                    "cannot {}: the swarm has no such {}",
                    operation.describe(),
                    match operation {
                        Operation::Deploy { .. } | Operation::RemoveStack { .. } => "stack",
                        Operation::Scale { .. } => "service",
                        Operation::Drain { .. } | Operation::Activate { .. } => "node",
                    }
                )))
            }
            code => {
                let said = tail(&format!("{}\n{}", out.stdout, out.stderr));
                return Err(ConsoleError::Refused(format!(
                    "cannot {}: Docker said (exit {code}): {said}",
                    operation.describe()
                )));
            }
        }
    }
    Err(ConsoleError::NoManagerAnswers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::check_compose;

    #[test]
    fn names_are_checked_before_a_script_is_built() {
        for bad in ["", "-x", "a.b", "a b", "x'y", "$(id)", &"a".repeat(41)] {
            assert!(stack_name(bad).is_err(), "{bad:?}");
            assert!(Operation::RemoveStack { stack: bad.into() }
                .script()
                .is_err());
        }
        for bad in [
            "",
            "ABCDEFGHIJKLMNOPQRSTUVWXY",
            "abc",
            "abcdefghij;klmnop",
            &"a".repeat(65),
        ] {
            assert!(
                Operation::Drain { node: bad.into() }.script().is_err(),
                "{bad:?}"
            );
        }
        assert!(Operation::Scale {
            service: "web".into(),
            replicas: MAX_REPLICAS + 1
        }
        .script()
        .is_err());
        let s = Operation::Scale {
            service: "web".into(),
            replicas: 3,
        }
        .script()
        .expect("built");
        assert!(s.contains("docker service scale --detach 'web=3'"), "{s}");
    }

    #[test]
    fn a_compose_file_travels_as_base64_only() {
        let compose = check_compose("services:\n  web:\n    image: \"x'; rm -rf / #\"\n")
            .expect("taken: the image is the operator's");
        let script = Operation::Deploy {
            stack: "shop".into(),
            compose,
        }
        .script()
        .expect("built");
        assert!(!script.contains("rm -rf"), "{script}");
        assert!(
            script.contains("docker stack deploy --prune --resolve-image never -c \"$f\" 'shop'")
        );
    }
}
