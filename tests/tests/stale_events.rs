//! Events are hints and the cloud confirms: terminate events replayed with stale or forged
//! tokens, for managers (the leader among them) and workers their groups hold in service,
//! each delivered twice, change nothing in the swarm, and the function says why.

use std::collections::BTreeSet;
use std::time::Duration;

use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::{wait, Lab};

/// The swarm as a manager sees it: (hostname, node id, role, manager status), sorted.
async fn swarm_listing(lab: &Lab, manager: &str) -> anyhow::Result<BTreeSet<String>> {
    let out = lab
        .run_ok(
            manager,
            "docker node ls --format '{{.Hostname}} {{.ID}} {{.Status}} {{.ManagerStatus}}'",
        )
        .await?;
    Ok(out.lines().map(str::to_owned).collect())
}

#[tokio::test]
async fn terminate_events_for_instances_in_service_are_disregarded_and_change_nothing(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.95.0/24", "10.200.96.0/24", 3, 2);
    let swarm = Product::launch(&lab, &spec).await?;
    let instances = swarm.in_service(&lab, 5).await?;
    let (leader, other) = swarm.leader_and_another(&lab).await?;
    let before = swarm_listing(&lab, &other).await?;
    let queue = swarm.queue_url(&lab, "LifecycleQueue").await?;

    // For each instance, two terminate events with made-up tokens, as a replay or a
    // forger would send them to the function's queue.
    let mut sent = 0;
    for id in &instances {
        let group = if swarm.ids(&lab, &swarm.managers).await?.contains(id) {
            &swarm.managers
        } else {
            &swarm.workers
        };
        for _ in 0..2 {
            let event = serde_json::json!({
                "version": "0",
                "id": uuid::Uuid::new_v4().to_string(),
                "detail-type": "EC2 Instance-terminate Lifecycle Action",
                "source": "aws.autoscaling",
                "account": "123456789012",
                "time": "2026-12-01T00:00:00Z",
                "region": lab.info.region,
                "resources": [],
                "detail": {
                    "LifecycleActionToken": uuid::Uuid::new_v4().to_string(),
                    "AutoScalingGroupName": group,
                    "LifecycleHookName": "leave-swarm",
                    "EC2InstanceId": id,
                    "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
                    "Origin": "AutoScalingGroup",
                    "Destination": "EC2"
                }
            });
            lab.sqs()
                .send_message()
                .queue_url(&queue)
                .message_body(event.to_string())
                .send()
                .await?;
            sent += 1;
        }
    }
    // Each was read and disregarded, with the reason in the function's log.
    wait::until(
        "every forged event disregarded",
        Duration::from_secs(120),
        || async {
            let log = swarm.function_logs(&lab)?;
            let seen = log
                .lines()
                .filter(|l| l.contains("the event is disregarded") && l.contains("not terminating"))
                .count();
            Ok(((seen >= sent).then_some(()), format!("{seen} of {sent}")))
        },
    )
    .await?;
    let log = swarm.function_logs(&lab)?;
    for id in &instances {
        assert!(
            log.lines()
                .any(|l| l.contains("the event is disregarded") && l.contains(id.as_str())),
            "no disregarded event for {id}"
        );
    }

    // Nothing changed: the same nodes, ids, roles and leader; every instance in service;
    // no terminate action completed.
    let after = swarm_listing(&lab, &other).await?;
    assert_eq!(before, after, "the swarm changed");
    assert_eq!(swarm.leader(&lab, &other).await?, leader);
    let still: BTreeSet<String> = swarm.in_service(&lab, 5).await?.into_iter().collect();
    assert_eq!(still, instances.iter().cloned().collect());
    let record = swarm.record(&lab).await?;
    assert!(record.departures.is_empty(), "{:?}", record.departures);
    lab.delete_stack_completely(&swarm.stack_id).await?;
    Ok(())
}
