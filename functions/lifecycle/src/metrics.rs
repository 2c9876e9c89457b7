//! CloudWatch metrics as Embedded Metric Format lines on stdout: Lambda sends stdout to
//! CloudWatch Logs, which turns each such line into metric data points (namespace
//! `Swarmhook`, dimension `Cluster`). No API call, so no cost on the event's path.

use serde_json::{json, Map, Value};
use swarmhook::plan::LifecycleResult;
use swarmhook::trigger::Report;

pub const NAMESPACE: &str = "Swarmhook";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF document: the values, and the metadata that declares them as metrics.
pub fn emf_line(cluster: &str, timestamp_ms: u64, metrics: &[(&str, Unit, f64)]) -> String {
    let declared: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Cluster"]],
                "Metrics": declared,
            }],
        }),
    );
    doc.insert("Cluster".into(), json!(cluster));
    for (name, _, value) in metrics {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc).to_string()
}

/// Prints one EMF line (nothing when there is nothing to say).
pub fn emit(cluster: &str, metrics: &[(&str, Unit, f64)]) {
    if metrics.is_empty() {
        return;
    }
    println!("{}", emf_line(cluster, now_ms(), metrics));
}

/// The values one of the brain's reports counts: a join or a removal and how long it took
/// from the event to its completion; a reconcile's outcome, the swarm's census and the
/// balancer's state.
pub fn values_of(report: &Report) -> Vec<(&'static str, Unit, f64)> {
    match report {
        Report::Completed {
            launching,
            result,
            began_at_ms,
        } => {
            let what = match (launching, result) {
                (true, LifecycleResult::Continue) => "Joins",
                (true, LifecycleResult::Abandon) => "JoinsAbandoned",
                (false, _) => "Removals",
            };
            let mut values = vec![(what, Unit::Count, 1.0)];
            if let Some(began) = began_at_ms {
                let latency = (now_ms() as i64 - began).max(0) as f64;
                values.push(("LifecycleLatency", Unit::Milliseconds, latency));
            }
            values
        }
        Report::Reconciled { run, balance } => {
            let mut values = vec![
                ("Removals", Unit::Count, run.removed.len() as f64),
                ("Joins", Unit::Count, run.joined.len() as f64),
                ("CannotJoin", Unit::Count, run.cannot_join.len() as f64),
                ("DeadNodesReplaced", Unit::Count, run.replaced.len() as f64),
            ];
            if let Some(c) = run.census {
                values.extend([
                    ("Managers", Unit::Count, f64::from(c.managers)),
                    ("Workers", Unit::Count, f64::from(c.workers)),
                    (
                        "ReachableManagers",
                        Unit::Count,
                        f64::from(c.reachable_managers),
                    ),
                    ("NodesDown", Unit::Count, f64::from(c.nodes_down)),
                ]);
            }
            if let Some(b) = balance {
                values.extend([
                    ("Listeners", Unit::Count, b.listeners as f64),
                    ("PortsRefused", Unit::Count, b.refused.len() as f64),
                    ("BalancerChangesFailed", Unit::Count, b.failed.len() as f64),
                ]);
            }
            values
        }
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_each_value_it_carries() {
        let line = emf_line(
            "prod",
            1_700_000_000_000,
            &[
                ("Joins", Unit::Count, 1.0),
                ("LifecycleLatency", Unit::Milliseconds, 5400.0),
            ],
        );
        let doc: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(doc["Cluster"], "prod");
        assert_eq!(doc["Joins"], 1.0);
        assert_eq!(doc["LifecycleLatency"], 5400.0);
        let meta = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(meta["Namespace"], NAMESPACE);
        assert_eq!(meta["Dimensions"], json!([["Cluster"]]));
        assert_eq!(
            meta["Metrics"][1],
            json!({"Name": "LifecycleLatency", "Unit": "Milliseconds"})
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }
}
