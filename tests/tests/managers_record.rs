//! The managers' DNS record follows the swarm: after joins, after a removal through the
//! group, after a manager killed outside any hook; and the stack's deletion removes it.
//! A hundred workers joining at once cost a few Route 53 calls, not one or more each.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::LifecycleState;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::{wait, Lab, LabError};

/// The values of the managers' record (`managers.<id>.swarm.internal`, the stack's
/// `ManagersDnsName`), if the record exists.
async fn record(lab: &Lab, swarm: &Product) -> Result<Option<BTreeSet<String>>, LabError> {
    let route53 = aws_sdk_route53::Client::new(&lab.sdk);
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let zone_name = outputs
        .get("ManagersDnsName")
        .and_then(|n| n.strip_prefix("managers."))
        .map(|zone| format!("{zone}."))
        .ok_or_else(|| LabError::Unexpected(format!("no ManagersDnsName in {outputs:?}")))?;
    let zones = route53
        .list_hosted_zones_by_name()
        .send()
        .await
        .map_err(|e| LabError::aws("ListHostedZonesByName", e))?;
    let Some(zone) = zones
        .hosted_zones()
        .iter()
        .find(|z| z.name().trim_end_matches('.') == zone_name.trim_end_matches('.'))
    else {
        let names: Vec<&str> = zones.hosted_zones().iter().map(|z| z.name()).collect();
        return Err(LabError::Unexpected(format!(
            "no zone {zone_name} in {names:?}"
        )));
    };
    let name = format!("managers.{zone_name}");
    let sets = route53
        .list_resource_record_sets()
        .hosted_zone_id(zone.id())
        .send()
        .await
        .map_err(|e| LabError::aws("ListResourceRecordSets", e))?;
    Ok(sets
        .resource_record_sets()
        .iter()
        .find(|s| {
            s.name().trim_end_matches('.') == name.trim_end_matches('.')
                && s.r#type().as_str() == "A"
        })
        .map(|s| {
            s.resource_records()
                .iter()
                .map(|r| r.value().to_owned())
                .collect()
        }))
}

/// The private addresses of the manager group's instances in service.
async fn manager_addresses(lab: &Lab, swarm: &Product) -> Result<BTreeSet<String>, LabError> {
    let mut out = BTreeSet::new();
    for (id, state) in lab.group_instances(&swarm.managers).await? {
        if state == LifecycleState::InService {
            out.insert(lab.private_ip(&id).await?);
        }
    }
    Ok(out)
}

/// Waits (firing the reconcile every ten seconds) until the group has `n` managers in
/// service and the record lists exactly their addresses.
async fn record_follows(
    lab: &Lab,
    swarm: &Product,
    n: usize,
    after: &str,
) -> Result<BTreeSet<String>, LabError> {
    wait::until_reconciled(
        lab,
        &format!("the managers' record equal to the {n} managers {after}"),
        Duration::from_secs(300),
        || async {
            let want = manager_addresses(lab, swarm).await?;
            let got = record(lab, swarm).await?;
            let done = want.len() == n && got.as_ref() == Some(&want);
            Ok((
                done.then_some(want.clone()),
                format!("record {got:?}, managers {want:?}"),
            ))
        },
    )
    .await
}

/// Waits until the record lists the 3 managers in service, `gone` not among them.
async fn record_drops(lab: &Lab, swarm: &Product, gone: &str, after: &str) -> Result<(), LabError> {
    wait::until(
        &format!("{gone} out of the record {after}"),
        Duration::from_secs(300),
        || async {
            let now = record_follows(lab, swarm, 3, after).await?;
            Ok((
                (!now.iter().any(|a| a == gone)).then_some(()),
                format!("{now:?}"),
            ))
        },
    )
    .await
}

#[tokio::test]
async fn the_managers_record_follows_joins_removals_and_a_killed_manager() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.83.0/24", "10.200.84.0/24", 3, 0);
    let swarm = Product::launch(&lab, &spec).await?;
    // After the joins: each manager's completion wrote it.
    record_follows(&lab, &swarm, 3, "after the joins").await?;

    // A removal through the group (its replacement joins).
    let managers = swarm.ids(&lab, &swarm.managers).await?;
    let leaving = lab.private_ip(&managers[0]).await?;
    lab.autoscaling()
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&managers[0])
        .should_decrement_desired_capacity(false)
        .send()
        .await?;
    record_drops(&lab, &swarm, &leaving, "after a removal").await?;

    // A manager killed outside any hook: reconcile removes it; the replacement joins.
    let managers = swarm.ids(&lab, &swarm.managers).await?;
    let killed = lab.private_ip(&managers[0]).await?;
    lab.kill(&managers[0]).await?;
    record_drops(&lab, &swarm, &killed, "after a kill").await?;

    // Deleting the stack removes the record, so its zone goes too.
    lab.delete_stack_completely(&swarm.stack_id).await?;
    Ok(())
}

/// Route 53 calls among a stack's function calls: (reads, change batches).
fn route53_calls(calls: &BTreeMap<String, u64>) -> (u64, u64) {
    let count = |method: &str| -> u64 {
        calls
            .iter()
            .filter(|(call, _)| call.starts_with(&format!("route53:{method} ")))
            .map(|(_, n)| *n)
            .sum()
    };
    (count("GET"), count("POST"))
}

/// What the lifecycle function logged `message` for, so far.
fn logged(logs: &str, message: &str) -> usize {
    logs.matches(&format!("\"message\":\"{message}\"")).count()
}

/// The template's `SWARMHOOK_RECONCILE_DELAY_SECONDS`: changes within one such window
/// share one reconcile asked for after them.
const RECONCILE_WINDOW: Duration = Duration::from_secs(20);

/// A hundred workers asked for at once, each joined through its hook. No manager changes,
/// so Route 53 sees no change batch; each reconcile reads the record once; and the
/// reconciles asked for after the joins come at most one per window. The figures are
/// printed and written to `target/lab/route53-calls.json`.
#[tokio::test]
async fn a_hundred_workers_joining_at_once_cost_few_route53_calls() -> anyhow::Result<()> {
    const WORKERS: usize = 100;
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.87.0/24", "10.200.88.0/24", 1, 0);
    let swarm = Product::launch(&lab, &spec).await?;
    record_follows(&lab, &swarm, 1, "after the first manager's join").await?;

    let (reads_before, writes_before) =
        route53_calls(&lab.stack_function_calls(&swarm.stack).await?);
    let logs = swarm.function_logs(&lab)?;
    let (runs_before, asked_before) = (
        logged(&logs, "reconciled"),
        logged(&logs, "a reconcile asked for"),
    );
    let started = Instant::now();
    swarm.set_workers(&lab, WORKERS as i32).await?;
    swarm
        .in_service_within(&lab, WORKERS + 1, Duration::from_secs(1500))
        .await?;
    let elapsed = started.elapsed();
    let (reads, writes) = route53_calls(&lab.stack_function_calls(&swarm.stack).await?);
    let (reads, writes) = (reads - reads_before, writes - writes_before);
    let logs = swarm.function_logs(&lab)?;
    let runs = logged(&logs, "reconciled") - runs_before;
    let asked = logged(&logs, "a reconcile asked for") - asked_before;

    let figures = serde_json::json!({
        "node_changes": WORKERS,
        "seconds_until_all_in_service": elapsed.as_secs_f64().round(),
        "route53_calls": reads + writes,
        "route53_reads": reads,
        "route53_change_batches": writes,
        "reconcile_runs": runs,
        "reconciles_asked_for_after_joins": asked,
    });
    println!("{WORKERS} workers joining at once: {figures}");
    let out = std::path::Path::new(&lab.info.run_dir).join("../route53-calls.json");
    std::fs::write(&out, serde_json::to_string_pretty(&figures)?)?;

    assert_eq!(
        writes, 0,
        "the managers did not change, yet Route 53 got change batches: {figures}"
    );
    // A run that logged before the first count may read just after it: one more.
    assert!(
        reads <= runs as u64 + 1,
        "more Route 53 reads than reconcile runs: {figures}"
    );
    assert!(
        asked >= 1,
        "no reconcile was asked for after the joins: {figures}"
    );
    let windows = elapsed.as_secs() / RECONCILE_WINDOW.as_secs() + 1;
    assert!(
        asked as u64 <= windows,
        "more than one reconcile asked for per {RECONCILE_WINDOW:?} window ({windows} windows): {figures}"
    );

    // A stack of 101 nodes deletes.
    lab.delete_stack_completely(&swarm.stack_id).await?;
    Ok(())
}
