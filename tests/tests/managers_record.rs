//! The managers' DNS record follows the swarm: after joins, after a removal through the
//! group, after a manager killed outside any hook; and the stack's deletion removes it.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_autoscaling::types::LifecycleState;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::{wait, Lab, LabError};

/// The values of `managers.<stack>.swarm.internal`, if the record exists.
async fn record(lab: &Lab, swarm: &Product) -> Result<Option<BTreeSet<String>>, LabError> {
    let route53 = aws_sdk_route53::Client::new(&lab.sdk);
    let zone_name = format!("{}.swarm.internal.", swarm.stack);
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
    lab.delete_stack(&swarm.stack_id).await?;
    let status = lab.settled_status(&swarm.stack_id).await?;
    assert_eq!(
        status,
        "DELETE_COMPLETE",
        "{:?}",
        lab.stack_event_reasons(&swarm.stack_id).await?
    );
    Ok(())
}
