//! The picture: the cluster's record, one console script on a manager, one listing of
//! the cluster's machines and one read of the load balancer, joined.

use std::collections::BTreeMap;

use super::parse::{parse_service_tasks, parse_swarm_picture};
use super::scripts::{service_tasks_script, swarm_picture_script, NO_SUCH_SERVICE_EXIT};
use super::{ConsoleError, Listener, MachineRow, NodeRow, SwarmPicture, TaskRow, ZoneCount};
use crate::cluster::{GroupMember, MemberState, StoreRecord};
use crate::execute::answering_manager;
use crate::plan::BalancerView;
use crate::ports::{Balancer, ClusterStore, Fleet, NodeEngine};

/// What the console reads through.
pub struct PicturePorts<'a, S, E, F, B> {
    pub store: &'a S,
    pub engine: &'a E,
    pub fleet: &'a F,
    /// None when the stack has no load balancer.
    pub balancer: Option<&'a B>,
}

/// The swarm, page `page` of its nodes. `now` (unix seconds) dates what swarmhook is
/// doing; `replace_after` is how long a node may be Down while its machine runs before
/// its machine is replaced.
pub async fn swarm_picture<S, E, F, B>(
    ports: &PicturePorts<'_, S, E, F, B>,
    page: u32,
    now: u64,
    replace_after: u64,
) -> Result<SwarmPicture, ConsoleError>
where
    S: ClusterStore,
    E: NodeEngine,
    F: Fleet,
    B: Balancer,
{
    let record = ports.store.load().await.map_err(ConsoleError::Store)?;
    let (reported_by, out) = answering_manager(ports.engine, &record, &swarm_picture_script(page))
        .await
        .map_err(ConsoleError::Engine)?
        .ok_or(ConsoleError::NoManagerAnswers)?;
    let seen = parse_swarm_picture(&out.stdout)?;
    let members = ports.fleet.members().await.map_err(ConsoleError::Fleet)?;
    let balancer = match ports.balancer {
        Some(b) => Some(b.observe().await.map_err(ConsoleError::Balancer)?),
        None => None,
    };
    let machines = Machines::new(&record, &members, now, replace_after);
    let mut services = seen.services;
    for service in &mut services {
        for port in &mut service.ports {
            port.listener = listener(balancer.as_ref(), port.published, &port.mode);
        }
    }
    let joined = |rows: Vec<NodeRow>| -> Vec<NodeRow> {
        rows.into_iter()
            .map(|mut row| {
                row.machine = machines.of_node(&row.node_id);
                row
            })
            .collect()
    };
    Ok(SwarmPicture {
        reported_by,
        counts: seen.counts,
        nodes_total: seen.nodes_total,
        unhealthy: joined(seen.unhealthy),
        page,
        nodes: joined(seen.nodes),
        machines_without_node: machines.without_node(),
        machines_by_zone: by_zone(&members),
        services_total: seen.services_total,
        services,
    })
}

/// A service's tasks, read on a manager.
pub async fn service_tasks<S: ClusterStore, E: NodeEngine>(
    store: &S,
    engine: &E,
    service: &str,
) -> Result<Vec<TaskRow>, ConsoleError> {
    let script = service_tasks_script(service)?;
    let record = store.load().await.map_err(ConsoleError::Store)?;
    // A manager that says the service does not exist has answered: ask no other.
    for manager in &record.managers {
        let out =
            (engine.run(&manager.instance_id, &script).await).map_err(ConsoleError::Engine)?;
        let Some(out) = out else {
            continue;
        };
        if out.exit_code == NO_SUCH_SERVICE_EXIT {
            return Err(ConsoleError::NoSuchService(service.to_owned()));
        }
        if out.exit_code == 0 {
            return Ok(parse_service_tasks(&out.stdout)?);
        }
    }
    Err(ConsoleError::NoManagerAnswers)
}

fn listener(balancer: Option<&BalancerView>, port: u16, mode: &str) -> Listener {
    if mode != "ingress" {
        return Listener::NotBalanced;
    }
    let Some(view) = balancer else {
        return Listener::NoBalancer;
    };
    match view.listeners.iter().find(|l| l.port == port) {
        Some(l) => Listener::Listening {
            protocol: l.protocol.as_aws().to_owned(),
        },
        None => Listener::Pending,
    }
}

fn by_zone(members: &[GroupMember]) -> Vec<ZoneCount> {
    let mut counts: BTreeMap<(Option<String>, u8), ZoneCount> = BTreeMap::new();
    for m in members {
        let key = (
            m.placement.clone(),
            u8::from(m.role == crate::cluster::Role::Worker),
        );
        counts
            .entry(key)
            .or_insert_with(|| ZoneCount {
                zone: m.placement.clone(),
                role: m.role,
                count: 0,
            })
            .count += 1;
    }
    counts.into_values().collect()
}

/// Each machine of the cluster's groups, with what swarmhook is doing with it, by the
/// node it joined as.
struct Machines {
    by_node: BTreeMap<String, MachineRow>,
    without_node: Vec<MachineRow>,
}

impl Machines {
    fn new(record: &StoreRecord, members: &[GroupMember], now: u64, replace_after: u64) -> Self {
        let node_of: BTreeMap<&str, &str> = (record.nodes.iter())
            .map(|n| (n.instance_id.as_str(), n.node_id.as_str()))
            .collect();
        let mut by_node = BTreeMap::new();
        let mut without_node = Vec::new();
        for member in members {
            let instance = member.instance_id.as_str();
            let node = node_of.get(instance).copied();
            let row = MachineRow {
                instance_id: member.instance_id.clone(),
                role: Some(member.role),
                placement: member.placement.clone(),
                cloud_state: member.cloud_state.clone(),
                doing: doing(record, member, node, now, replace_after),
            };
            match node {
                Some(node) => {
                    by_node.insert(node.to_owned(), row);
                }
                None => without_node.push(row),
            }
        }
        // Nodes swarmhook joined whose machine the groups no longer hold.
        for n in &record.nodes {
            by_node
                .entry(n.node_id.clone())
                .or_insert_with(|| MachineRow {
                    instance_id: n.instance_id.clone(),
                    role: Some(n.role),
                    placement: None,
                    cloud_state: Some("gone".to_owned()),
                    doing: Some("removed from the swarm by the next reconcile".to_owned()),
                });
        }
        Machines {
            by_node,
            without_node,
        }
    }

    fn of_node(&self, node_id: &str) -> Option<MachineRow> {
        self.by_node.get(node_id).cloned()
    }

    fn without_node(&self) -> Vec<MachineRow> {
        self.without_node.clone()
    }
}

fn doing(
    record: &StoreRecord,
    member: &GroupMember,
    node: Option<&str>,
    now: u64,
    replace_after: u64,
) -> Option<String> {
    let instance = member.instance_id.as_str();
    if record.departures.iter().any(|d| d.instance_id == instance) {
        return Some("leaving: drained, then removed from the swarm".to_owned());
    }
    if let Some(s) = record.suspects.iter().find(|s| s.instance_id == instance) {
        let down_for = now.saturating_sub(s.since);
        return Some(if down_for >= replace_after {
            format!("not serving for {down_for} s: its machine is being replaced")
        } else {
            format!("not serving for {down_for} s: its machine is replaced after {replace_after} s")
        });
    }
    if record.lease_of(instance, now).is_some() {
        return Some("joining the swarm".to_owned());
    }
    match (member.state, node) {
        (MemberState::Pending, None) => Some("launching: joins once its engine answers".to_owned()),
        (MemberState::Terminating, _) => Some("leaving".to_owned()),
        (MemberState::InService, None) => {
            Some("in service without a node: the next reconcile joins it".to_owned())
        }
        _ => None,
    }
}
