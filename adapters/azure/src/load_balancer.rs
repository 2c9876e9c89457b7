//! The swarm's public load balancer (a Standard Azure load balancer) as the brain's
//! balancer port: a rule and a health probe per published port.
//!
//! The brain's balancer model has listeners that forward to target groups; on Azure a
//! listener is the rule (or, for a port published for TCP and UDP, the two rules) named
//! `swarmhook-{port}-tcp` / `-udp`, and a target group is the health probe
//! `swarmhook-{tcp|udp|tcpudp}-{port}` its rules name. Every rule forwards from the load
//! balancer's first frontend to its first backend pool, which the template attaches to
//! the workers' scale set, so attaching and detaching a target group change nothing
//! here. A probe opens a TCP connection to the port on each worker (the routing mesh
//! answers on every node); a UDP-only port cannot be probed, so its probe asks for the
//! swarm's own gossip port (7946/tcp), open on every node in the swarm. Rules and probes
//! whose names do not start with `swarmhook-` are someone else's: their ports are
//! reported as foreign and never touched. Azure's load balancer passes TCP through and
//! does not terminate TLS, so a port that asks for a certificate is refused.
//!
//! The whole resource is written at once: each change reads it with its etag, edits its
//! probes and rules, and PUTs it with `If-Match`; a write that lost the race (412) or met
//! another operation in progress (409) is read and tried again, a few times, then left to
//! the brain's retry.

use azure_core::http::Method;
use serde_json::{json, Value};
use swarmhook::plan::{
    BalancerChange, BalancerView, ListenerProtocol, ManagedListener, ManagedTargetGroup,
    TargetProtocol,
};
use swarmhook::ports::{Balancer, PortError};

use crate::arm::{ArmScope, NETWORK_API};
use crate::client::{Audience, AzureClient};
use crate::error::{port_error, shape_error};

const OURS: &str = "swarmhook-";
/// A Standard load balancer takes 1,500 rules (Azure's networking limits).
const RULE_QUOTA: usize = 1500;
/// Probes share the rules' limit: one per port at most.
const PROBE_QUOTA: usize = 1500;
/// The swarm's gossip port, open on every node: what a UDP-only port's probe asks.
const GOSSIP_PORT: u16 = 7946;
/// Writes tried against a moving etag before the brain's retry takes over.
const WRITE_TRIES: usize = 4;

pub struct AzureLoadBalancer {
    client: AzureClient,
    url: String,
    name: String,
}

impl AzureLoadBalancer {
    /// The load balancer `name` in the cluster's group.
    pub fn new(client: AzureClient, scope: &ArmScope, name: &str) -> Self {
        let id = scope.resource_id(&format!("Microsoft.Network/loadBalancers/{name}"));
        AzureLoadBalancer {
            client,
            url: scope.url(&id, NETWORK_API),
            name: name.to_owned(),
        }
    }

    /// The resource and its etag.
    async fn read(&self) -> Result<(Value, String), PortError> {
        let answer = self
            .client
            .send(Audience::Management, Method::Get, &self.url, &[], None)
            .await
            .map_err(|e| port_error("reading the load balancer", &self.name, e))?;
        if !answer.ok() {
            return Err(port_error(
                "reading the load balancer",
                &self.name,
                answer.unexpected(),
            ));
        }
        let body: Value = answer
            .json()
            .map_err(|e| shape_error("reading the load balancer", &self.name, e.to_string()))?;
        let etag = body["etag"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| answer.header("etag").map(str::to_owned))
            .unwrap_or_default();
        Ok((body, etag))
    }

    /// Reads, edits and writes the resource under its etag, again if the etag moved.
    async fn edit(&self, change: &BalancerChange) -> Result<(), PortError> {
        for _ in 0..WRITE_TRIES {
            let (mut body, etag) = self.read().await?;
            if !edit(&mut body, change).map_err(|why| refused(&self.name, why))? {
                return Ok(()); // already as asked
            }
            let answer = self
                .client
                .json(
                    Audience::Management,
                    Method::Put,
                    &self.url,
                    &[("if-match", etag)],
                    &body,
                )
                .await
                .map_err(|e| port_error("writing the load balancer", &self.name, e))?;
            match answer.status {
                200 | 201 => return Ok(()),
                409 | 412 => continue,
                _ => {
                    return Err(port_error(
                        "writing the load balancer",
                        &self.name,
                        answer.unexpected(),
                    ))
                }
            }
        }
        Err(PortError {
            operation: "writing the load balancer",
            target: self.name.clone(),
            retryable: true,
            source: format!("the load balancer kept changing under {WRITE_TRIES} writes").into(),
        })
    }
}

fn refused(name: &str, why: String) -> PortError {
    PortError {
        operation: "changing the load balancer",
        target: name.to_owned(),
        retryable: false,
        source: why.into(),
    }
}

fn probe_name(port: u16, protocol: TargetProtocol) -> String {
    let p = match protocol {
        TargetProtocol::Tcp => "tcp",
        TargetProtocol::Udp => "udp",
        TargetProtocol::TcpUdp => "tcpudp",
    };
    format!("{OURS}{p}-{port}")
}

/// A probe name of ours: its port and protocol.
fn parse_probe(name: &str) -> Option<(u16, TargetProtocol)> {
    let (p, port) = name.strip_prefix(OURS)?.split_once('-')?;
    let protocol = match p {
        "tcp" => TargetProtocol::Tcp,
        "udp" => TargetProtocol::Udp,
        "tcpudp" => TargetProtocol::TcpUdp,
        _ => return None,
    };
    Some((port.parse().ok()?, protocol))
}

fn listener_name(port: u16) -> String {
    format!("{OURS}{port}")
}

fn listener_port(arn: &str) -> Option<u16> {
    arn.strip_prefix(OURS)?.parse().ok()
}

fn items<'a>(body: &'a Value, collection: &str) -> impl Iterator<Item = &'a Value> {
    body["properties"][collection]
        .as_array()
        .into_iter()
        .flatten()
}

fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The load balancer as the brain sees it.
pub(crate) fn view_of(body: &Value) -> BalancerView {
    let mut view = BalancerView {
        listener_quota: RULE_QUOTA,
        target_group_quota: PROBE_QUOTA,
        ..BalancerView::default()
    };
    for probe in items(body, "probes") {
        let name = probe["name"].as_str().unwrap_or_default();
        if let Some((port, protocol)) = parse_probe(name) {
            view.target_groups.push(ManagedTargetGroup {
                arn: name.to_owned(),
                port,
                protocol,
                attached: true,
            });
        }
    }
    // Our rules, by port: (tcp?, udp?, the probe they name).
    let mut ours: std::collections::BTreeMap<u16, (bool, bool, String)> = Default::default();
    for rule in items(body, "loadBalancingRules") {
        let name = rule["name"].as_str().unwrap_or_default();
        let props = &rule["properties"];
        let Some(port) = props["frontendPort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        if !name.starts_with(OURS) {
            if !view.foreign_ports.contains(&port) {
                view.foreign_ports.push(port);
            }
            continue;
        }
        let entry = ours.entry(port).or_default();
        match props["protocol"].as_str().unwrap_or_default() {
            "Udp" => entry.1 = true,
            _ => entry.0 = true,
        }
        if let Some(probe) = props["probe"]["id"].as_str() {
            entry.2 = last_segment(probe).to_owned();
        }
    }
    for (port, (tcp, udp, probe)) in ours {
        let protocol = match (tcp, udp) {
            (true, true) => ListenerProtocol::TcpUdp,
            (false, true) => ListenerProtocol::Udp,
            _ => ListenerProtocol::Tcp,
        };
        view.listeners.push(ManagedListener {
            arn: listener_name(port),
            port,
            protocol,
            certificate: None,
            target_group_arn: probe,
        });
    }
    view.foreign_ports.sort_unstable();
    view
}

fn collection<'a>(body: &'a mut Value, name: &str) -> &'a mut Vec<Value> {
    let props = &mut body["properties"];
    if !props[name].is_array() {
        props[name] = json!([]);
    }
    match props[name].as_array_mut() {
        Some(list) => list,
        None => unreachable!("set to an array above"),
    }
}

fn first_id(body: &Value, collection: &str) -> Result<String, String> {
    items(body, collection)
        .next()
        .and_then(|i| i["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("the load balancer has no {collection}: the template gives it one"))
}

/// Removes our rules for `port`; whether any was there.
fn drop_rules(body: &mut Value, port: u16) -> bool {
    let rules = collection(body, "loadBalancingRules");
    let before = rules.len();
    let prefix = format!("{OURS}{port}-");
    rules.retain(|r| !r["name"].as_str().unwrap_or_default().starts_with(&prefix));
    rules.len() != before
}

/// The rules `port` wants, forwarding to the probe `probe`.
fn rules_for(
    body: &Value,
    port: u16,
    protocol: ListenerProtocol,
    probe: &str,
) -> Result<Vec<Value>, String> {
    let transports: &[&str] = match protocol {
        ListenerProtocol::Tcp => &["Tcp"],
        ListenerProtocol::Udp => &["Udp"],
        ListenerProtocol::TcpUdp => &["Tcp", "Udp"],
        ListenerProtocol::Tls => {
            return Err(format!(
                "port {port} asks for TLS, but Azure's load balancer passes TCP through and does not terminate TLS: publish it without a certificate label"
            ))
        }
    };
    let lb = body["id"].as_str().unwrap_or_default();
    let frontend = first_id(body, "frontendIPConfigurations")?;
    let pool = first_id(body, "backendAddressPools")?;
    Ok(transports
        .iter()
        .map(|t| {
            json!({
                "name": format!("{OURS}{port}-{}", t.to_lowercase()),
                "properties": {
                    "frontendIPConfiguration": {"id": frontend},
                    "backendAddressPool": {"id": pool},
                    "probe": {"id": format!("{lb}/probes/{probe}")},
                    "protocol": t,
                    "frontendPort": port,
                    "backendPort": port,
                    "enableFloatingIP": false,
                    "idleTimeoutInMinutes": 4,
                    "loadDistribution": "Default",
                    "disableOutboundSnat": true,
                }
            })
        })
        .collect())
}

/// Applies one change to the resource's body; false when it already holds.
pub(crate) fn edit(body: &mut Value, change: &BalancerChange) -> Result<bool, String> {
    match change {
        BalancerChange::AttachTargetGroup { .. } | BalancerChange::DetachTargetGroup { .. } => {
            Ok(false)
        }
        BalancerChange::CreateTargetGroup { port, protocol } => {
            let name = probe_name(*port, *protocol);
            let probes = collection(body, "probes");
            if probes.iter().any(|p| p["name"] == name.as_str()) {
                return Ok(false);
            }
            let probed = if *protocol == TargetProtocol::Udp {
                GOSSIP_PORT
            } else {
                *port
            };
            probes.push(json!({
                "name": name,
                "properties": {"protocol": "Tcp", "port": probed, "intervalInSeconds": 5, "numberOfProbes": 2, "probeThreshold": 2}
            }));
            Ok(true)
        }
        BalancerChange::DeleteTargetGroup { target_group_arn } => {
            let probes = collection(body, "probes");
            let before = probes.len();
            probes.retain(|p| p["name"] != target_group_arn.as_str());
            Ok(probes.len() != before)
        }
        BalancerChange::CreateListener {
            port,
            protocol,
            target_group_arn,
            ..
        } => replace_rules(body, *port, *protocol, target_group_arn),
        BalancerChange::ModifyListener {
            listener_arn,
            protocol,
            target_group_arn,
            ..
        } => {
            let port = listener_port(listener_arn)
                .ok_or_else(|| format!("{listener_arn} is not a rule swarmhook made"))?;
            replace_rules(body, port, *protocol, target_group_arn)
        }
        BalancerChange::DeleteListener { listener_arn } => {
            let port = listener_port(listener_arn)
                .ok_or_else(|| format!("{listener_arn} is not a rule swarmhook made"))?;
            Ok(drop_rules(body, port))
        }
    }
}

fn replace_rules(
    body: &mut Value,
    port: u16,
    protocol: ListenerProtocol,
    probe: &str,
) -> Result<bool, String> {
    let wanted = rules_for(body, port, protocol, probe)?;
    let prefix = format!("{OURS}{port}-");
    let have: Vec<&Value> = items(body, "loadBalancingRules")
        .filter(|r| r["name"].as_str().unwrap_or_default().starts_with(&prefix))
        .collect();
    let same = have.len() == wanted.len()
        && wanted.iter().all(|w| {
            have.iter().any(|h| {
                h["name"] == w["name"]
                    && h["properties"]["protocol"] == w["properties"]["protocol"]
                    && h["properties"]["probe"]["id"]
                        .as_str()
                        .is_some_and(|id| last_segment(id) == probe)
            })
        });
    if same {
        return Ok(false);
    }
    drop_rules(body, port);
    collection(body, "loadBalancingRules").extend(wanted);
    Ok(true)
}

impl Balancer for AzureLoadBalancer {
    async fn observe(&self) -> Result<BalancerView, PortError> {
        let (body, _) = self.read().await?;
        Ok(view_of(&body))
    }

    async fn apply(&self, change: &BalancerChange) -> Result<(), PortError> {
        self.edit(change).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb() -> Value {
        let id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb";
        json!({
            "id": id, "etag": "W/\"1\"",
            "properties": {
                "frontendIPConfigurations": [{"name": "public", "id": format!("{id}/frontendIPConfigurations/public")}],
                "backendAddressPools": [{"name": "workers", "id": format!("{id}/backendAddressPools/workers")}],
                "probes": [{"name": "theirs", "properties": {"protocol": "Tcp", "port": 22}}],
                "loadBalancingRules": [{"name": "theirs", "properties": {"frontendPort": 22, "protocol": "Tcp"}}]
            }
        })
    }

    #[test]
    fn a_published_port_gets_a_probe_then_its_rule_and_reads_back_as_a_listener() {
        let mut body = lb();
        let tg = BalancerChange::CreateTargetGroup {
            port: 8080,
            protocol: TargetProtocol::Tcp,
        };
        assert_eq!(edit(&mut body, &tg), Ok(true));
        assert_eq!(edit(&mut body, &tg), Ok(false), "again: nothing to do");
        let listener = BalancerChange::CreateListener {
            port: 8080,
            protocol: ListenerProtocol::Tcp,
            certificate: None,
            target_group_arn: "swarmhook-tcp-8080".into(),
        };
        assert_eq!(edit(&mut body, &listener), Ok(true));
        assert_eq!(edit(&mut body, &listener), Ok(false));
        let view = view_of(&body);
        assert_eq!(view.foreign_ports, vec![22]);
        assert_eq!(view.target_groups.len(), 1);
        assert_eq!(
            view.listeners,
            vec![ManagedListener {
                arn: "swarmhook-8080".into(),
                port: 8080,
                protocol: ListenerProtocol::Tcp,
                certificate: None,
                target_group_arn: "swarmhook-tcp-8080".into(),
            }]
        );
        let rule = &body["properties"]["loadBalancingRules"][1]["properties"];
        assert_eq!(rule["backendPort"], 8080);
        assert!(rule["probe"]["id"]
            .as_str()
            .is_some_and(|id| id.ends_with("/probes/swarmhook-tcp-8080")));

        // TCP and UDP: two rules, one listener; removed, the other party's rule stays.
        let both = BalancerChange::ModifyListener {
            listener_arn: "swarmhook-8080".into(),
            protocol: ListenerProtocol::TcpUdp,
            certificate: None,
            target_group_arn: "swarmhook-tcp-8080".into(),
        };
        assert_eq!(edit(&mut body, &both), Ok(true));
        assert_eq!(
            view_of(&body).listeners[0].protocol,
            ListenerProtocol::TcpUdp
        );
        let gone = BalancerChange::DeleteListener {
            listener_arn: "swarmhook-8080".into(),
        };
        assert_eq!(edit(&mut body, &gone), Ok(true));
        assert!(view_of(&body).listeners.is_empty());
        assert_eq!(
            body["properties"]["loadBalancingRules"][0]["name"],
            "theirs"
        );
    }

    #[test]
    fn a_udp_port_is_probed_on_the_gossip_port_and_tls_is_refused() {
        let mut body = lb();
        let udp = BalancerChange::CreateTargetGroup {
            port: 5353,
            protocol: TargetProtocol::Udp,
        };
        assert_eq!(edit(&mut body, &udp), Ok(true));
        assert_eq!(body["properties"]["probes"][1]["properties"]["port"], 7946);
        let tls = BalancerChange::CreateListener {
            port: 443,
            protocol: ListenerProtocol::Tls,
            certificate: Some("arn".into()),
            target_group_arn: "swarmhook-tcp-443".into(),
        };
        let before = body.clone();
        assert!(edit(&mut body, &tls).is_err_and(|e| e.contains("does not terminate TLS")));
        assert_eq!(body, before, "a refused change changes nothing");
    }
}
