//! Typed readings of the console scripts' output.

use serde::Deserialize;

use super::scripts::{
    COUNTS_MARKER, DETAILS_MARKER, NODES_MARKER, SERVICES_MARKER, UNHEALTHY_MARKER,
};
use super::{NodeCount, NodeRow, ServicePort, ServiceRow, TaskRow};
use crate::cluster::Role;
use crate::engine::ParseError;

/// `swarm_picture_script`'s output, before it is joined with the machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodesAndServices {
    pub counts: Vec<NodeCount>,
    pub unhealthy: Vec<NodeRow>,
    pub nodes_total: u32,
    pub nodes: Vec<NodeRow>,
    pub services_total: u32,
    /// Each service's published ports carry `Listener::Pending` until joined with the
    /// load balancer.
    pub services: Vec<ServiceRow>,
}

fn unexpected(script: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::Unexpected {
        script,
        reason: reason.into(),
    }
}

/// The text between `start` (a whole line) and the next marker line.
fn section<'a>(stdout: &'a str, start: &str) -> Option<&'a str> {
    let from = stdout
        .match_indices(start)
        .find(|(i, _)| *i == 0 || stdout.as_bytes()[i - 1] == b'\n')?
        .0;
    let rest = &stdout[from..];
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    if body.starts_with("--- ") {
        return Some("");
    }
    Some(match body.find("\n--- ") {
        Some(end) => &body[..end + 1],
        None => body,
    })
}

/// The number after a marker such as `--- nodes 12`.
fn counted(stdout: &str, marker: &str) -> Result<u32, ParseError> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(marker))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| unexpected("swarm-picture", format!("no {marker:?} line")))
}

fn node_line(line: &str) -> Result<NodeRow, ParseError> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [id, hostname, status, availability, manager_status, engine_version] = fields[..] else {
        return Err(unexpected(
            "swarm-picture",
            format!("a node line has {} fields, not 6", fields.len()),
        ));
    };
    if id.is_empty() {
        return Err(unexpected("swarm-picture", "a node line has no id"));
    }
    let manager_status = (!manager_status.is_empty()).then(|| manager_status.to_owned());
    Ok(NodeRow {
        node_id: id.to_owned(),
        hostname: hostname.to_owned(),
        role: if manager_status.is_some() {
            Role::Manager
        } else {
            Role::Worker
        },
        status: status.to_owned(),
        availability: availability.to_owned(),
        manager_status,
        engine_version: engine_version.to_owned(),
        machine: None,
    })
}

fn node_lines(text: &str) -> Result<Vec<NodeRow>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(node_line)
        .collect()
}

fn count_line(line: &str) -> Result<NodeCount, ParseError> {
    let bad = || unexpected("swarm-picture", format!("a count line reads {line:?}"));
    let (count, rest) = line.trim_start().split_once(' ').ok_or_else(bad)?;
    let mut fields = rest.split('\t');
    let (Some(role), Some(status), Some(availability), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(bad());
    };
    Ok(NodeCount {
        role: if role == "manager" {
            Role::Manager
        } else {
            Role::Worker
        },
        status: status.to_owned(),
        availability: availability.to_owned(),
        count: count.parse().map_err(|_| bad())?,
    })
}

/// `2/3`, `3/3 (max 1 per node)`, `0/1 (1/1 completed)`: running, then desired.
fn replicas(text: &str) -> Option<(u32, u32)> {
    let head = text.split_whitespace().next()?;
    let (running, desired) = head.split_once('/')?;
    Some((running.parse().ok()?, desired.parse().ok()?))
}

fn service_line(line: &str) -> Result<ServiceRow, ParseError> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [id, name, mode, replicas_text, image] = fields[..] else {
        return Err(unexpected(
            "swarm-picture",
            format!("a service line has {} fields, not 5", fields.len()),
        ));
    };
    let (running, desired) = replicas(replicas_text).unwrap_or((0, 0));
    Ok(ServiceRow {
        id: id.to_owned(),
        name: name.to_owned(),
        stack: None,
        mode: mode.to_owned(),
        running,
        desired,
        image: image.to_owned(),
        ports: Vec::new(),
        update_state: None,
    })
}

#[derive(Deserialize)]
struct ServiceDetails {
    id: String,
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    ports: Option<Vec<PortDetails>>,
    #[serde(default)]
    update: Option<UpdateDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PortDetails {
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    target_port: u32,
    #[serde(default)]
    published_port: u32,
    #[serde(default)]
    publish_mode: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateDetails {
    #[serde(default)]
    state: String,
}

fn add_details(services: &mut [ServiceRow], text: &str) -> Result<(), ParseError> {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let details: ServiceDetails =
            serde_json::from_str(line).map_err(|source| ParseError::Json {
                script: "swarm-picture",
                source,
            })?;
        // `docker service ls` prints ids cut to 12 characters; inspect prints them whole.
        let Some(service) = (services.iter_mut())
            .find(|s| !s.id.is_empty() && details.id.starts_with(s.id.as_str()))
        else {
            continue;
        };
        service.stack = details.stack.filter(|s| !s.is_empty());
        service.update_state = details.update.map(|u| u.state).filter(|s| !s.is_empty());
        service.ports = (details.ports.unwrap_or_default().into_iter())
            .filter_map(|p| {
                Some(ServicePort {
                    published: u16::try_from(p.published_port).ok()?,
                    target: u16::try_from(p.target_port).unwrap_or(0),
                    protocol: if p.protocol.is_empty() {
                        "tcp".to_owned()
                    } else {
                        p.protocol
                    },
                    mode: if p.publish_mode.is_empty() {
                        "ingress".to_owned()
                    } else {
                        p.publish_mode
                    },
                    listener: super::Listener::Pending,
                })
            })
            .filter(|p| p.published != 0)
            .collect();
    }
    Ok(())
}

/// `swarm_picture_script`'s result.
pub fn parse_swarm_picture(stdout: &str) -> Result<NodesAndServices, ParseError> {
    let missing = |m: &str| unexpected("swarm-picture", format!("no {m:?} section"));
    let counts = section(stdout, COUNTS_MARKER).ok_or_else(|| missing(COUNTS_MARKER))?;
    let unhealthy = section(stdout, UNHEALTHY_MARKER).ok_or_else(|| missing(UNHEALTHY_MARKER))?;
    let nodes = section(stdout, NODES_MARKER).ok_or_else(|| missing(NODES_MARKER))?;
    let services = section(stdout, SERVICES_MARKER).ok_or_else(|| missing(SERVICES_MARKER))?;
    let details = section(stdout, DETAILS_MARKER).unwrap_or("");
    let mut listed: Vec<ServiceRow> = (services.lines())
        .filter(|l| !l.trim().is_empty())
        .map(service_line)
        .collect::<Result<_, _>>()?;
    add_details(&mut listed, details)?;
    Ok(NodesAndServices {
        counts: (counts.lines())
            .filter(|l| !l.trim().is_empty())
            .map(count_line)
            .collect::<Result<_, _>>()?,
        unhealthy: node_lines(unhealthy)?,
        nodes_total: counted(stdout, NODES_MARKER)?,
        nodes: node_lines(nodes)?,
        services_total: counted(stdout, SERVICES_MARKER)?,
        services: listed,
    })
}

/// `service_tasks_script`'s result. A task's error may run over several lines: a line
/// that is not a task continues the error before it.
pub fn parse_service_tasks(stdout: &str) -> Result<Vec<TaskRow>, ParseError> {
    let mut tasks: Vec<TaskRow> = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.splitn(6, '\t').collect();
        match fields[..] {
            [id, name, node, desired, current, error] => tasks.push(TaskRow {
                id: id.to_owned(),
                name: name.to_owned(),
                node: node.to_owned(),
                desired_state: desired.to_owned(),
                current_state: current.to_owned(),
                error: error.to_owned(),
            }),
            _ => match tasks.last_mut() {
                Some(task) => {
                    task.error.push('\n');
                    task.error.push_str(line);
                }
                None => {
                    return Err(unexpected(
                        "service-tasks",
                        format!("the first task line has {} fields, not 6", fields.len()),
                    ))
                }
            },
        }
    }
    Ok(tasks)
}
