//! Typed readings of what the scripts print.

use serde::{Deserialize, Serialize};

use crate::cluster::{
    tls_label, Availability, EngineState, ManagerStatus, NodeStatus, PublishedPort, Role,
    SwarmMember, Transport,
};

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("unexpected output from {script}: {reason}")]
    Unexpected {
        script: &'static str,
        reason: String,
    },
    #[error("{script} printed JSON we cannot read")]
    Json {
        script: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SwarmInfo {
    #[serde(rename = "NodeID", default)]
    node_id: String,
    local_node_state: String,
    #[serde(default)]
    control_available: bool,
    #[serde(default)]
    error: String,
    #[serde(default)]
    cluster: Option<ClusterInfo>,
}

#[derive(Deserialize)]
struct ClusterInfo {
    #[serde(rename = "ID")]
    id: String,
}

/// The probe's result, from `probe_engine`'s exit code and stdout. Any failure to read the
/// engine ("Cannot connect to the Docker daemon", docker not installed yet) means it is not
/// up yet: the event is retried.
pub fn parse_engine_state(exit_code: i32, stdout: &str) -> Result<EngineState, ParseError> {
    if exit_code != 0 {
        return Ok(EngineState::Unreachable);
    }
    let info: SwarmInfo =
        serde_json::from_str(stdout.trim()).map_err(|source| ParseError::Json {
            script: "probe-engine",
            source,
        })?;
    Ok(match info.local_node_state.as_str() {
        "inactive" => EngineState::Inactive,
        "pending" => EngineState::Pending,
        "active" => EngineState::Active {
            node_id: info.node_id,
            cluster_id: info.cluster.map(|c| c.id),
            is_manager: info.control_available,
        },
        "locked" => EngineState::Failed("the swarm is locked (autolock)".into()),
        "error" => EngineState::Failed(if info.error.is_empty() {
            "error".into()
        } else {
            info.error
        }),
        other => {
            return Err(ParseError::Unexpected {
                script: "probe-engine",
                reason: format!("LocalNodeState {other:?}"),
            })
        }
    })
}

/// The engine's state as a changing script (init, join, leave) reports it after acting:
/// the `Swarm` JSON after its last `ENGINE_MARKER` line. No report (the engine stopped
/// answering) is Unreachable, whatever the script's own exit code says.
pub fn parse_engine_report(stdout: &str) -> Result<EngineState, ParseError> {
    use super::scripts::ENGINE_MARKER;
    match stdout.rsplit_once(&format!("{ENGINE_MARKER}\n")) {
        Some((_, report)) if !report.trim().is_empty() => parse_engine_state(0, report),
        _ => Ok(EngineState::Unreachable),
    }
}

/// The ids of the nodes `swarm_census` found not serving (the lines after its marker);
/// anything that is not a node id is an error.
pub fn parse_unhealthy_nodes(stdout: &str) -> Result<Vec<String>, ParseError> {
    use super::scripts::UNHEALTHY_MARKER;
    let mut lines = stdout.lines().skip_while(|l| l.trim() != UNHEALTHY_MARKER);
    if lines.next().is_none() {
        return Err(ParseError::Unexpected {
            script: "swarm-census",
            reason: format!("no {UNHEALTHY_MARKER:?} line"),
        });
    }
    lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|id| {
            if id.chars().all(|c| c.is_ascii_alphanumeric()) {
                Ok(id.to_owned())
            } else {
                Err(ParseError::Unexpected {
                    script: "swarm-census",
                    reason: format!("node id {id:?}"),
                })
            }
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeInspect {
    #[serde(rename = "ID")]
    id: String,
    spec: NodeSpec,
    description: NodeDescription,
    status: NodeStatusJson,
    #[serde(default)]
    manager_status: Option<ManagerStatusJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeSpec {
    role: String,
    #[serde(default)]
    availability: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeDescription {
    hostname: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeStatusJson {
    state: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManagerStatusJson {
    #[serde(default)]
    leader: bool,
    reachability: String,
}

fn role(s: &str, script: &'static str) -> Result<Role, ParseError> {
    match s.to_ascii_lowercase().as_str() {
        "manager" => Ok(Role::Manager),
        "worker" => Ok(Role::Worker),
        other => Err(ParseError::Unexpected {
            script,
            reason: format!("role {other:?}"),
        }),
    }
}

fn availability(s: &str) -> Availability {
    match s.to_ascii_lowercase().as_str() {
        "drain" => Availability::Drain,
        "pause" => Availability::Pause,
        _ => Availability::Active,
    }
}

fn node_status(s: &str) -> NodeStatus {
    match s.to_ascii_lowercase().as_str() {
        "ready" => NodeStatus::Ready,
        "down" => NodeStatus::Down,
        "disconnected" => NodeStatus::Disconnected,
        _ => NodeStatus::Unknown,
    }
}

fn manager_status(s: &str) -> Option<ManagerStatus> {
    match s.to_ascii_lowercase().as_str() {
        "leader" => Some(ManagerStatus::Leader),
        "reachable" => Some(ManagerStatus::Reachable),
        "unreachable" => Some(ManagerStatus::Unreachable),
        _ => None,
    }
}

/// `inspect_node`'s result: the member, or None when the swarm has no such node.
pub fn parse_node_inspect(
    exit_code: i32,
    stdout: &str,
    stderr: &str,
) -> Result<Option<SwarmMember>, ParseError> {
    if exit_code != 0 {
        if stderr.contains("not found") {
            return Ok(None);
        }
        return Err(ParseError::Unexpected {
            script: "inspect-node",
            reason: stderr.trim().chars().take(300).collect(),
        });
    }
    let node: NodeInspect =
        serde_json::from_str(stdout.trim()).map_err(|source| ParseError::Json {
            script: "inspect-node",
            source,
        })?;
    Ok(Some(SwarmMember {
        node_id: node.id,
        hostname: node.description.hostname,
        role: role(&node.spec.role, "inspect-node")?,
        availability: availability(&node.spec.availability),
        status: node_status(&node.status.state),
        manager_status: node.manager_status.and_then(|m| {
            if m.leader {
                Some(ManagerStatus::Leader)
            } else {
                manager_status(&m.reachability)
            }
        }),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeLsLine {
    #[serde(rename = "ID")]
    id: String,
    hostname: String,
    status: String,
    #[serde(default)]
    manager_status: String,
    #[serde(default)]
    availability: String,
}

/// `list_managers`' result.
pub fn parse_manager_list(stdout: &str) -> Result<Vec<SwarmMember>, ParseError> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let n: NodeLsLine = serde_json::from_str(line).map_err(|source| ParseError::Json {
                script: "list-managers",
                source,
            })?;
            Ok(SwarmMember {
                node_id: n.id,
                hostname: n.hostname,
                role: Role::Manager,
                status: node_status(&n.status),
                manager_status: manager_status(&n.manager_status),
                availability: availability(&n.availability),
            })
        })
        .collect()
}

/// How long the engine itself took to join, from `join_swarm`'s "joined <addr> in <n> ms"
/// line; None when the node was already a member (or the line is missing).
pub fn parse_join_millis(stdout: &str) -> Option<u64> {
    stdout.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("joined ")?;
        let (_, millis) = rest.split_once(" in ")?;
        millis.strip_suffix(" ms")?.trim().parse().ok()
    })
}

/// `swarm_view`'s result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmView {
    pub managers: Vec<SwarmMember>,
    /// The named node; None when the swarm has no such node, or none was named.
    pub node: Option<SwarmMember>,
    /// Tasks the swarm wants running on the named node.
    pub running_tasks: Option<u32>,
}

pub fn parse_swarm_view(stdout: &str, stderr: &str) -> Result<SwarmView, ParseError> {
    use super::scripts::{INSPECT_FAILED_MARKER, NODE_MARKER, TASKS_MARKER};
    let (managers, rest) = match stdout.split_once(&format!("{NODE_MARKER}\n")) {
        Some((managers, rest)) => (managers, Some(rest)),
        None => (stdout, None),
    };
    let managers = parse_manager_list(managers)?;
    let Some(rest) = rest else {
        return Ok(SwarmView {
            managers,
            node: None,
            running_tasks: None,
        });
    };
    let (inspected, tasks) = match rest.split_once(TASKS_MARKER) {
        Some((inspected, tasks)) => (inspected, tasks.trim().parse::<u32>().ok()),
        None => (rest, None),
    };
    let node = if inspected.contains(INSPECT_FAILED_MARKER) {
        parse_node_inspect(1, "", stderr)?
    } else {
        parse_node_inspect(0, inspected, "")?
    };
    Ok(SwarmView {
        managers,
        running_tasks: node.as_ref().and(tasks),
        node,
    })
}

/// The swarm in numbers (`swarm_census`' result).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SwarmCensus {
    pub nodes: u32,
    pub managers: u32,
    pub workers: u32,
    /// Managers that are Leader or Reachable.
    pub reachable_managers: u32,
    /// Nodes the swarm reports Down (or Disconnected, or Unknown).
    pub nodes_down: u32,
}

/// The counts of `swarm_census`' result (the lines before its list of nodes not serving).
pub fn parse_swarm_census(stdout: &str) -> Result<SwarmCensus, ParseError> {
    use super::scripts::UNHEALTHY_MARKER;
    let counts = stdout.lines().take_while(|l| l.trim() != UNHEALTHY_MARKER);
    let mut census = SwarmCensus::default();
    for line in counts.filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let unexpected = || ParseError::Unexpected {
            script: "swarm-census",
            reason: format!("line {line:?}"),
        };
        let count: u32 = words
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or_else(unexpected)?;
        let status = words.next().ok_or_else(unexpected)?;
        let standing = words.next();
        census.nodes += count;
        if node_status(status) != NodeStatus::Ready {
            census.nodes_down += count;
        }
        match standing {
            None => census.workers += count,
            Some(s) => {
                census.managers += count;
                if matches!(
                    manager_status(s),
                    Some(ManagerStatus::Leader | ManagerStatus::Reachable)
                ) {
                    census.reachable_managers += count;
                }
            }
        }
    }
    Ok(census)
}

#[derive(Deserialize)]
struct ServicePorts {
    name: String,
    #[serde(default)]
    ports: Option<Vec<EndpointPort>>,
    #[serde(default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointPort {
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    published_port: u32,
    #[serde(default)]
    publish_mode: String,
}

/// `published_ports`' result: every ingress-mode TCP or UDP port, with the certificate its
/// service's `swarmhook.tls.<port>` label names. Host-mode ports (bound only where a task
/// runs) and SCTP are not the load balancer's.
pub fn parse_published_ports(stdout: &str) -> Result<Vec<PublishedPort>, ParseError> {
    let mut found = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let service: ServicePorts =
            serde_json::from_str(line).map_err(|source| ParseError::Json {
                script: "published-ports",
                source,
            })?;
        let labels = service.labels.unwrap_or_default();
        for p in service.ports.unwrap_or_default() {
            let ingress = p.publish_mode.is_empty() || p.publish_mode == "ingress";
            let transport = match p.protocol.as_str() {
                "tcp" | "" => Transport::Tcp,
                "udp" => Transport::Udp,
                _ => continue,
            };
            let Ok(port) = u16::try_from(p.published_port) else {
                continue;
            };
            if !ingress || port == 0 {
                continue;
            }
            // Kept for UDP too, so the planner can say why TLS cannot be offered there.
            let certificate = labels.get(&tls_label(port)).cloned();
            found.push(PublishedPort {
                port,
                transport,
                service: service.name.clone(),
                certificate,
            });
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}
