//! The load balancer follows the swarm: one listener and one target group per published
//! port, nothing else of swarmhook's. Pure: from what the swarm publishes and what the
//! balancer has (the part swarmhook manages, tagged with the cluster), the changes that
//! bring one to the other. The executor applies them, observes again and plans again
//! (a listener needs its target group's ARN, known only once created), so a run that
//! stops half-way is finished by the next.
//!
//! Target groups are attached to the worker group, so instances that launch later are
//! registered by Auto Scaling itself. Their health check is TCP on the swarm's gossip
//! port (7946), which every member listens on: a node is healthy when it is in the
//! swarm, whatever one service does.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::cluster::{PublishedPort, Transport};

/// Every swarm member listens on it (container network discovery, TCP and UDP).
pub const HEALTH_CHECK_PORT: u16 = 7946;

/// A Network Load Balancer listener's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListenerProtocol {
    Tcp,
    Udp,
    TcpUdp,
    /// TLS terminated at the balancer with a certificate; TCP to the nodes.
    Tls,
}

impl ListenerProtocol {
    /// The target group's protocol for this listener.
    pub fn target_protocol(self) -> TargetProtocol {
        match self {
            ListenerProtocol::Tcp | ListenerProtocol::Tls => TargetProtocol::Tcp,
            ListenerProtocol::Udp => TargetProtocol::Udp,
            ListenerProtocol::TcpUdp => TargetProtocol::TcpUdp,
        }
    }

    pub fn as_aws(self) -> &'static str {
        match self {
            ListenerProtocol::Tcp => "TCP",
            ListenerProtocol::Udp => "UDP",
            ListenerProtocol::TcpUdp => "TCP_UDP",
            ListenerProtocol::Tls => "TLS",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetProtocol {
    Tcp,
    Udp,
    TcpUdp,
}

impl TargetProtocol {
    pub fn as_aws(self) -> &'static str {
        match self {
            TargetProtocol::Tcp => "TCP",
            TargetProtocol::Udp => "UDP",
            TargetProtocol::TcpUdp => "TCP_UDP",
        }
    }
}

/// The listener a published port asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedListener {
    pub port: u16,
    pub protocol: ListenerProtocol,
    pub certificate: Option<String>,
}

/// A listener swarmhook created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedListener {
    pub arn: String,
    pub port: u16,
    pub protocol: ListenerProtocol,
    pub certificate: Option<String>,
    pub target_group_arn: String,
}

/// A target group swarmhook created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedTargetGroup {
    pub arn: String,
    pub port: u16,
    pub protocol: TargetProtocol,
    /// Attached to the worker group (its instances registered by Auto Scaling).
    pub attached: bool,
}

/// The balancer as swarmhook sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancerView {
    pub listeners: Vec<ManagedListener>,
    pub target_groups: Vec<ManagedTargetGroup>,
    /// Ports of listeners swarmhook did not create (the template's, a person's): never touched.
    pub foreign_ports: Vec<u16>,
    /// How many listeners the balancer may have (the NLB quota, 50 by default).
    pub listener_quota: usize,
    /// How many target groups the worker group may have attached (its quota).
    pub target_group_quota: usize,
}

/// One change to the balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BalancerChange {
    CreateTargetGroup {
        port: u16,
        protocol: TargetProtocol,
    },
    AttachTargetGroup {
        target_group_arn: String,
    },
    CreateListener {
        port: u16,
        protocol: ListenerProtocol,
        certificate: Option<String>,
        target_group_arn: String,
    },
    ModifyListener {
        listener_arn: String,
        protocol: ListenerProtocol,
        certificate: Option<String>,
        target_group_arn: String,
    },
    DeleteListener {
        listener_arn: String,
    },
    DetachTargetGroup {
        target_group_arn: String,
    },
    DeleteTargetGroup {
        target_group_arn: String,
    },
}

/// A published port the balancer will not forward, and why (said in the log and metrics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub port: u16,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancerPlan {
    pub changes: Vec<BalancerChange>,
    pub refused: Vec<Refusal>,
}

/// What the services ask of one port.
#[derive(Default)]
struct PortAsked {
    transports: BTreeSet<Transport>,
    certificate: Option<String>,
    services: BTreeSet<String>,
}

/// The listeners the published ports ask for: one per port (a port published for TCP
/// and UDP is one TCP_UDP listener; a certificate label makes a TCP port TLS).
pub fn wanted_listeners(published: &[PublishedPort]) -> (Vec<WantedListener>, Vec<Refusal>) {
    let mut by_port: BTreeMap<u16, PortAsked> = BTreeMap::new();
    for p in published {
        let asked = by_port.entry(p.port).or_default();
        asked.transports.insert(p.transport);
        if p.certificate.is_some() {
            asked.certificate.clone_from(&p.certificate);
        }
        asked.services.insert(p.service.clone());
    }
    let mut wanted = Vec::new();
    let mut refused = Vec::new();
    for (port, asked) in by_port {
        let PortAsked {
            transports,
            certificate,
            services,
        } = asked;
        let tcp = transports.contains(&Transport::Tcp);
        let udp = transports.contains(&Transport::Udp);
        let protocol = match (tcp, udp, &certificate) {
            (true, true, Some(_)) => {
                refused.push(Refusal {
                    port,
                    reason: format!(
                        "port {port} is published for TCP and UDP ({}): TLS cannot be offered on a UDP port; remove the swarmhook.tls.{port} label or the UDP port",
                        names(&services)
                    ),
                });
                continue;
            }
            (false, true, Some(_)) => {
                refused.push(Refusal {
                    port,
                    reason: format!(
                        "port {port} is UDP ({}): TLS needs TCP; remove the swarmhook.tls.{port} label",
                        names(&services)
                    ),
                });
                continue;
            }
            (true, true, None) => ListenerProtocol::TcpUdp,
            (false, true, None) => ListenerProtocol::Udp,
            (_, _, Some(_)) => ListenerProtocol::Tls,
            _ => ListenerProtocol::Tcp,
        };
        wanted.push(WantedListener {
            port,
            protocol,
            certificate,
        });
    }
    (wanted, refused)
}

fn names(services: &BTreeSet<String>) -> String {
    services.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// The changes that make the balancer forward exactly the wanted ports: what is stale
/// goes first (listeners, then their target groups once nothing uses them), then what is
/// missing, port by port, within the quotas.
pub fn plan_balancer(wanted: &[WantedListener], view: &BalancerView) -> BalancerPlan {
    let mut plan = BalancerPlan::default();
    let foreign: BTreeSet<u16> = view.foreign_ports.iter().copied().collect();

    // Which wanted ports fit: ports held by someone else's listener are refused; the rest
    // in port order up to the quotas (listeners on the balancer, target groups on the group).
    let listener_room = view.listener_quota.saturating_sub(foreign.len());
    let mut fitting: Vec<&WantedListener> = Vec::new();
    for w in wanted {
        if foreign.contains(&w.port) {
            plan.refused.push(Refusal {
                port: w.port,
                reason: format!(
                    "port {} already has a listener that swarmhook did not create: left alone",
                    w.port
                ),
            });
        } else if fitting.len() >= listener_room.min(view.target_group_quota) {
            plan.refused.push(Refusal {
                port: w.port,
                reason: format!(
                    "port {} is over the quota: the load balancer takes {} listeners and the worker group {} target groups; raise the quota or publish fewer ports",
                    w.port, view.listener_quota, view.target_group_quota
                ),
            });
        } else {
            fitting.push(w);
        }
    }

    let group_for = |w: &WantedListener| {
        view.target_groups
            .iter()
            .find(|g| g.port == w.port && g.protocol == w.protocol.target_protocol())
    };
    let wanted_groups: BTreeSet<&str> = fitting
        .iter()
        .filter_map(|w| group_for(w).map(|g| g.arn.as_str()))
        .collect();

    // Stale listeners: a port no longer wanted.
    for l in &view.listeners {
        if !fitting.iter().any(|w| w.port == l.port) {
            plan.changes.push(BalancerChange::DeleteListener {
                listener_arn: l.arn.clone(),
            });
        }
    }
    // Stale target groups, once no kept listener forwards to them (a listener moving to a
    // new group keeps its old one serving until it has moved): detached, then deleted.
    for g in &view.target_groups {
        if wanted_groups.contains(g.arn.as_str()) {
            continue;
        }
        let still_used = view
            .listeners
            .iter()
            .any(|l| l.target_group_arn == g.arn && fitting.iter().any(|w| w.port == l.port));
        if still_used {
            continue;
        }
        if g.attached {
            plan.changes.push(BalancerChange::DetachTargetGroup {
                target_group_arn: g.arn.clone(),
            });
        }
        plan.changes.push(BalancerChange::DeleteTargetGroup {
            target_group_arn: g.arn.clone(),
        });
    }

    // What is missing, port by port.
    for w in fitting {
        let Some(group) = group_for(w) else {
            plan.changes.push(BalancerChange::CreateTargetGroup {
                port: w.port,
                protocol: w.protocol.target_protocol(),
            });
            continue;
        };
        if !group.attached {
            plan.changes.push(BalancerChange::AttachTargetGroup {
                target_group_arn: group.arn.clone(),
            });
        }
        match view.listeners.iter().find(|l| l.port == w.port) {
            None => plan.changes.push(BalancerChange::CreateListener {
                port: w.port,
                protocol: w.protocol,
                certificate: w.certificate.clone(),
                target_group_arn: group.arn.clone(),
            }),
            Some(l)
                if l.protocol != w.protocol
                    || l.certificate != w.certificate
                    || l.target_group_arn != group.arn =>
            {
                plan.changes.push(BalancerChange::ModifyListener {
                    listener_arn: l.arn.clone(),
                    protocol: w.protocol,
                    certificate: w.certificate.clone(),
                    target_group_arn: group.arn.clone(),
                })
            }
            Some(_) => {}
        }
    }
    plan
}
