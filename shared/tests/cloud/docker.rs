//! Docker, simulated: each instance's engine and the one swarm, with the rules the real
//! swarm enforces (a change to the managers commits only while a majority answers; a
//! manager cannot leave or be removed before it is demoted; a node that is not down is
//! not removed). It runs the brain's own scripts: the script's first line names it, and
//! its single-quoted arguments are read from its text, so what is tested is what a node
//! would be sent.

use std::collections::BTreeMap;

use serde_json::json;
use swarmhook::cluster::Role;
use swarmhook::engine::ENGINE_MARKER;
use swarmhook::ports::ScriptOutput;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    pub instance_id: String,
    pub address: String,
    pub role: Role,
    pub drained: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Engine {
    /// The engine answers (false: stopped, or the machine is gone).
    pub up: bool,
    /// Its node id, while it is in the swarm.
    pub node_id: Option<String>,
}

/// A destructive change a script made, and to which instance's node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub what: &'static str,
    pub instance_id: String,
}

#[derive(Debug, Default)]
pub struct Docker {
    pub engines: BTreeMap<String, Engine>,
    /// The swarm's nodes by id (a node that left stays, Down, until removed).
    pub nodes: BTreeMap<String, SwarmNode>,
    pub cluster_id: Option<String>,
    pub tokens_published: bool,
    pub changes: Vec<Change>,
    /// Each instance's private address (the cloud's).
    pub addresses: BTreeMap<String, String>,
    next_node: u32,
}

fn out(exit_code: i32, stdout: impl Into<String>) -> ScriptOutput {
    ScriptOutput {
        exit_code,
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

/// The single-quoted words of a script, in order.
fn quoted(script: &str) -> Vec<&str> {
    script.split('\'').skip(1).step_by(2).collect()
}

impl Docker {
    pub fn ready(&self, node_id: &str) -> bool {
        self.nodes.get(node_id).is_some_and(|n| {
            self.engines
                .get(&n.instance_id)
                .is_some_and(|e| e.up && e.node_id.as_deref() == Some(node_id))
        })
    }

    pub fn managers(&self) -> Vec<&String> {
        (self.nodes.iter())
            .filter(|(_, n)| n.role == Role::Manager)
            .map(|(id, _)| id)
            .collect()
    }

    /// A majority of the managers answers.
    pub fn has_quorum(&self) -> bool {
        let managers = self.managers();
        let reachable = managers.iter().filter(|id| self.ready(id)).count();
        !managers.is_empty() && reachable * 2 > managers.len()
    }

    fn leader(&self) -> Option<&String> {
        self.managers().into_iter().find(|id| self.ready(id))
    }

    /// The instance is a manager whose engine answers, in a swarm with a quorum: it can
    /// run swarm-wide commands.
    fn can_manage(&self, instance_id: &str) -> bool {
        let Some(node_id) = self
            .engines
            .get(instance_id)
            .and_then(|e| e.node_id.clone())
        else {
            return false;
        };
        self.nodes
            .get(&node_id)
            .is_some_and(|n| n.role == Role::Manager)
            && self.ready(&node_id)
            && self.has_quorum()
    }

    fn info(&self, instance_id: &str) -> String {
        let engine = &self.engines[instance_id];
        match &engine.node_id {
            None => json!({"NodeID": "", "LocalNodeState": "inactive"}).to_string(),
            Some(id) => {
                let manager = self.nodes.get(id).is_some_and(|n| n.role == Role::Manager);
                let mut info =
                    json!({"NodeID": id, "LocalNodeState": "active", "ControlAvailable": manager});
                if manager {
                    info["Cluster"] = json!({"ID": self.cluster_id});
                }
                info.to_string()
            }
        }
    }

    fn report(&self, instance_id: &str, code: i32, said: &str) -> ScriptOutput {
        out(
            code,
            format!("{said}\n{ENGINE_MARKER}\n{}\n", self.info(instance_id)),
        )
    }

    fn member_line(&self, id: &str) -> serde_json::Value {
        let n = &self.nodes[id];
        let status = if self.ready(id) { "Ready" } else { "Down" };
        let manager_status = match (n.role, self.ready(id)) {
            (Role::Worker, _) => "",
            (Role::Manager, false) => "Unreachable",
            (Role::Manager, true) if self.leader().map(String::as_str) == Some(id) => "Leader",
            (Role::Manager, true) => "Reachable",
        };
        json!({
            "ID": id, "Hostname": n.instance_id, "Status": status,
            "ManagerStatus": manager_status,
            "Availability": if n.drained { "Drain" } else { "Active" },
        })
    }

    fn touch(&mut self, what: &'static str, node_id: &str) {
        if let Some(n) = self.nodes.get(node_id) {
            self.changes.push(Change {
                what,
                instance_id: n.instance_id.clone(),
            });
        }
    }

    /// Runs one of the brain's scripts on `instance_id` (whose agent is online).
    pub fn run(&mut self, instance_id: &str, script: &str) -> ScriptOutput {
        let name = script
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# swarmhook "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        let args = quoted(script);
        let up = self.engines.get(instance_id).is_some_and(|e| e.up);
        let changing =
            name.starts_with("join-swarm") || name == "init-swarm" || name == "leave-swarm";
        if !up {
            return out(if changing { 9 } else { 1 }, "");
        }
        match name.as_str() {
            "probe-engine" => out(0, self.info(instance_id) + "\n"),
            "init-swarm" => {
                if self.engines[instance_id].node_id.is_some() {
                    return self.report(instance_id, 0, "already-active");
                }
                if self.cluster_id.is_some() {
                    panic!("a second swarm init, on {instance_id}, after the swarm exists");
                }
                let node_id = self.new_node(instance_id, Role::Manager);
                self.cluster_id = Some(format!("cluster-of-{node_id}"));
                self.report(instance_id, 0, "initialised")
            }
            n if n.starts_with("join-swarm-") => {
                if self.engines[instance_id].node_id.is_some() {
                    return self.report(instance_id, 0, "active");
                }
                let role = if n.ends_with("manager") {
                    Role::Manager
                } else {
                    Role::Worker
                };
                // The token comes from its parameter: published by a manager, or none.
                if !self.tokens_published {
                    return self.report(instance_id, 4, "");
                }
                let through = args.iter().skip(1).find(|addr| {
                    let addr = addr.split(':').next().unwrap_or_default();
                    self.nodes.iter().any(|(id, n)| {
                        n.role == Role::Manager && n.address == addr && self.ready(id)
                    })
                });
                let Some(through) = through.map(|a| a.to_string()) else {
                    return self.report(instance_id, 4, "");
                };
                if !self.has_quorum() {
                    return self.report(instance_id, 4, "");
                }
                self.new_node(instance_id, role);
                self.report(instance_id, 0, &format!("joined {through} in 1 ms"))
            }
            "leave-swarm" => {
                let Some(node_id) = self.engines[instance_id].node_id.clone() else {
                    return self.report(instance_id, 0, "already-inactive");
                };
                if self
                    .nodes
                    .get(&node_id)
                    .is_some_and(|n| n.role == Role::Manager)
                {
                    // Docker refuses a manager's leave without --force.
                    return self.report(instance_id, 1, "");
                }
                self.touch("leave", &node_id);
                if let Some(e) = self.engines.get_mut(instance_id) {
                    e.node_id = None;
                }
                self.report(instance_id, 0, "left")
            }
            "demote-node" | "drain-node" | "remove-node" => {
                let node_id = args.last().copied().unwrap_or_default().to_owned();
                if !self.can_manage(instance_id) || !self.nodes.contains_key(&node_id) {
                    return out(1, "");
                }
                match name.as_str() {
                    "demote-node" => {
                        if self.managers().len() == 1 && self.nodes[&node_id].role == Role::Manager
                        {
                            return out(1, "");
                        }
                        self.touch("demote", &node_id);
                        if let Some(n) = self.nodes.get_mut(&node_id) {
                            n.role = Role::Worker;
                        }
                        out(0, "demoted\n")
                    }
                    "drain-node" => {
                        self.touch("drain", &node_id);
                        if let Some(n) = self.nodes.get_mut(&node_id) {
                            n.drained = true;
                        }
                        out(0, "drained\n")
                    }
                    _ => {
                        if self.ready(&node_id) || self.nodes[&node_id].role == Role::Manager {
                            return out(1, "");
                        }
                        self.touch("remove", &node_id);
                        self.nodes.remove(&node_id);
                        out(0, "removed\n")
                    }
                }
            }
            "swarm-view" => {
                if !self.can_manage(instance_id) {
                    return out(7, "");
                }
                let mut stdout = String::new();
                for id in self.managers() {
                    stdout += &format!("{}\n", self.member_line(id));
                }
                if let Some(node) = script
                    .contains("--- node")
                    .then(|| {
                        args.iter()
                            .rev()
                            .find(|a| !a.contains(' ') && !a.contains('{') && !a.starts_with("---"))
                            .copied()
                    })
                    .flatten()
                {
                    stdout += "--- node\n";
                    match self.nodes.get(node) {
                        Some(n) => {
                            let line = self.member_line(node);
                            let mut inspect = json!({
                                "ID": node,
                                "Spec": {"Role": if n.role == Role::Manager { "manager" } else { "worker" }, "Availability": line["Availability"].as_str().unwrap_or("Active").to_lowercase()},
                                "Description": {"Hostname": n.instance_id},
                                "Status": {"State": if self.ready(node) { "ready" } else { "down" }},
                            });
                            if n.role == Role::Manager {
                                inspect["ManagerStatus"] = json!({
                                    "Leader": line["ManagerStatus"] == "Leader",
                                    "Reachability": if self.ready(node) { "reachable" } else { "unreachable" },
                                });
                            }
                            stdout += &format!("{inspect}\n--- tasks 0\n");
                        }
                        None => {
                            return ScriptOutput {
                                exit_code: 0,
                                stdout: stdout + "--- inspect-failed\n--- tasks 0\n",
                                stderr: format!("Error: No such node: {node} not found\n"),
                            };
                        }
                    }
                }
                out(0, stdout)
            }
            "swarm-census" => {
                if !self.can_manage(instance_id) {
                    return out(7, "");
                }
                let mut counts: BTreeMap<String, u32> = BTreeMap::new();
                let mut unhealthy = String::new();
                for id in self.nodes.keys() {
                    let line = self.member_line(id);
                    let status = line["Status"].as_str().unwrap_or_default().to_owned();
                    let standing = line["ManagerStatus"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    *counts.entry(format!("{status} {standing}")).or_default() += 1;
                    if status != "Ready" || standing == "Unreachable" {
                        unhealthy += &format!("{id}\n");
                    }
                }
                let mut stdout: String = counts.iter().map(|(k, n)| format!("{n} {k}\n")).collect();
                stdout += &format!("--- unhealthy\n{unhealthy}");
                out(0, stdout)
            }
            "publish-tokens" | "rotate-tokens" => {
                if !self.can_manage(instance_id) {
                    return out(5, "");
                }
                self.tokens_published = true;
                out(0, "published\n")
            }
            "published-ports" => out(0, ""),
            other => panic!("the simulated Docker has no script {other:?}"),
        }
    }

    fn new_node(&mut self, instance_id: &str, role: Role) -> String {
        let address = self.addresses.get(instance_id).cloned().unwrap_or_default();
        self.next_node += 1;
        let node_id = format!("node{}", self.next_node);
        self.nodes.insert(
            node_id.clone(),
            SwarmNode {
                instance_id: instance_id.to_owned(),
                address,
                role,
                drained: false,
            },
        );
        if let Some(e) = self.engines.get_mut(instance_id) {
            e.node_id = Some(node_id.clone());
        }
        node_id
    }
}
