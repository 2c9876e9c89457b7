//! Scale-in through the product: the terminate hook drains, demotes and removes each
//! leaving node before its machine goes, and the managers keep their quorum.

use std::time::Duration;

use aws_sdk_autoscaling::types::LifecycleState;
use serde_json::Value;
use swarmhook_lab_tests::product::{terminations, DuplicateEvents, Product, ProductSpec};
use swarmhook_lab_tests::{wait, Lab, LabError};

/// `docker node ls` on `instance`: one "<status> <availability> <manager status>" line per node.
async fn node_list(lab: &Lab, instance: &str) -> Result<Vec<String>, LabError> {
    let out = lab
        .run_ok(
            instance,
            "docker node ls --format '{{.Status}} {{.Availability}} {{.ManagerStatus}}'",
        )
        .await?;
    Ok(out.lines().map(|l| l.trim().to_owned()).collect())
}

/// Waits until a group has exactly `want` instances, all InService.
async fn group_settles(lab: &Lab, group: &str, want: usize) -> Result<Vec<String>, LabError> {
    wait::until(
        &format!("{group} at {want} InService"),
        Duration::from_secs(300),
        || async {
            let all = lab.group_instances(group).await?;
            let settled =
                all.len() == want && all.iter().all(|(_, s)| *s == LifecycleState::InService);
            Ok((
                settled.then(|| all.iter().map(|(id, _)| id.clone()).collect()),
                format!("{all:?}"),
            ))
        },
    )
    .await
}

#[tokio::test]
async fn workers_scaled_in_from_five_to_two_are_drained_and_removed() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.61.0/24", "10.200.62.0/24", 1, 5);
    let swarm = Product::launch(&lab, &spec).await?;
    let before = swarm.ids(&lab, &swarm.workers).await?;
    let manager = swarm.a_manager(&lab).await?;
    let tokens = swarm.tokens(&lab).await?;

    swarm.set_workers(&lab, 2).await?;
    let after = group_settles(&lab, &swarm.workers, 2).await?;
    let gone: Vec<&String> = before.iter().filter(|id| !after.contains(id)).collect();
    assert_eq!(gone.len(), 3, "{before:?} → {after:?}");

    // The swarm has the manager and the two workers, all Ready: no ghost is left Down.
    let nodes = wait::until(
        "three nodes in the swarm",
        Duration::from_secs(60),
        || async {
            let nodes = node_list(&lab, &manager).await?;
            Ok((
                (nodes.len() == 3).then(|| nodes.clone()),
                format!("{nodes:?}"),
            ))
        },
    )
    .await?;
    assert!(
        nodes.iter().all(|n| n.starts_with("Ready Active")),
        "{nodes:?}"
    );

    // Each leaving worker was drained before it left, and its action completed once.
    let done = terminations(&lab).await?;
    let log = swarm.function_logs(&lab)?;
    for id in &gone {
        let mine: Vec<&Value> = done
            .iter()
            .filter(|c| c["instance_id"] == id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "{id}: {mine:?}");
        assert_eq!(mine[0]["result"], "CONTINUE", "{id}");
        assert_eq!(
            mine[0]["by"], "token",
            "{id}: completed by the function, not a timeout"
        );
        for step in [
            r#""step":"drain""#,
            r#""step":"leave""#,
            r#""step":"remove-node""#,
        ] {
            assert!(
                log.lines()
                    .any(|l| l.contains(id.as_str()) && l.contains(step)),
                "{id}: no {step} in the log"
            );
        }
    }
    // The join tokens are untouched.
    assert_eq!(swarm.tokens(&lab).await?, tokens);
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

/// Waits until the swarm, seen from `from`, has exactly `n` nodes, all serving managers.
async fn managers_serving(lab: &Lab, from: &str, n: usize) -> Result<Vec<String>, LabError> {
    wait::until(
        &format!("{n} serving managers"),
        Duration::from_secs(180),
        || async {
            let nodes = node_list(lab, from).await?;
            let serving = nodes
                .iter()
                .filter(|l| l.ends_with("Reachable") || l.ends_with("Leader"))
                .count();
            let done = nodes.len() == n && serving == n;
            Ok((done.then(|| nodes.clone()), format!("{nodes:?}")))
        },
    )
    .await
}

#[tokio::test]
async fn managers_scaled_from_five_to_three_to_one_and_back_to_five_keep_the_swarm_answering(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.63.0/24", "10.200.64.0/24", 5, 0);
    let mut swarm = Product::launch(&lab, &spec).await?;
    let first = swarm.ids(&lab, &swarm.managers).await?;
    // The oldest manager stays through every scale-in (the newest leave first).
    let survivor = first
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no manager"))?;

    // Watch the swarm from the manager that stays, the whole time.
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (lab, survivor, watching) = (Lab::connect().await?, survivor.clone(), watching.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut answers = 0;
            while watching.load(std::sync::atomic::Ordering::SeqCst) {
                match lab.run(&survivor, "docker node ls -q").await {
                    Ok(r) if r.response_code == 0 => answers += 1,
                    Ok(r) => failures.push(r.stderr),
                    Err(e) => failures.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            (answers, failures)
        })
    };

    for n in [3usize, 1, 5] {
        let status = swarm
            .update(&lab, &[("ManagerCount", &n.to_string())])
            .await?;
        assert_eq!(status, "UPDATE_COMPLETE", "to {n} managers");
        let now = group_settles(&lab, &swarm.managers, n).await?;
        assert!(now.contains(&survivor), "the oldest manager left at {n}");
        let nodes = managers_serving(&lab, &survivor, n).await?;
        assert_eq!(
            nodes.iter().filter(|l| l.ends_with("Leader")).count(),
            1,
            "{nodes:?}"
        );
    }
    let log = swarm.function_logs(&lab)?;
    for id in first.iter().filter(|id| **id != survivor) {
        assert!(
            log.lines()
                .any(|l| l.contains(id.as_str()) && l.contains(r#""step":"demote""#)),
            "{id} was not demoted"
        );
    }

    watching.store(false, std::sync::atomic::Ordering::SeqCst);
    let (answers, failures) = watcher.await?;
    assert!(answers > 5, "the swarm was asked only {answers} times");
    assert!(
        failures.is_empty(),
        "docker node ls failed on the survivor: {failures:?}"
    );
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

#[tokio::test]
async fn the_leader_terminated_through_the_group_is_replaced_without_losing_the_swarm(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.65.0/24", "10.200.66.0/24", 3, 0);
    let swarm = Product::launch(&lab, &spec).await?;
    swarm.in_service(&lab, 3).await?;
    let (old_leader, watcher_node) = swarm.leader_and_another(&lab).await?;

    lab.autoscaling()
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&old_leader)
        .should_decrement_desired_capacity(false)
        .send()
        .await?;
    // The old leader goes and a replacement joins; three managers again.
    let now = wait::until("the leader replaced", Duration::from_secs(300), || async {
        let all = lab.group_instances(&swarm.managers).await?;
        let done = all.len() == 3
            && all
                .iter()
                .all(|(id, s)| *s == LifecycleState::InService && *id != old_leader);
        Ok((
            done.then(|| all.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()),
            format!("{all:?}"),
        ))
    })
    .await?;
    let nodes = wait::until(
        "three reachable managers",
        Duration::from_secs(120),
        || async {
            let nodes = node_list(&lab, &watcher_node).await?;
            let serving = nodes
                .iter()
                .filter(|n| n.ends_with("Leader") || n.ends_with("Reachable"))
                .count();
            Ok((
                (nodes.len() == 3 && serving == 3).then(|| nodes.clone()),
                format!("{nodes:?}"),
            ))
        },
    )
    .await?;
    assert_eq!(
        nodes.iter().filter(|n| n.ends_with("Leader")).count(),
        1,
        "{nodes:?}"
    );
    let new_leader = swarm.leader(&lab, &watcher_node).await?;
    assert!(now.contains(&new_leader));
    let log = swarm.function_logs(&lab)?;
    assert!(
        log.lines()
            .any(|l| l.contains(old_leader.as_str()) && l.contains(r#""step":"demote""#)),
        "the old leader was not demoted"
    );
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

#[tokio::test]
async fn terminate_events_delivered_twice_and_late_complete_each_action_once() -> anyhow::Result<()>
{
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.67.0/24", "10.200.68.0/24", 1, 3);
    let swarm = Product::launch(&lab, &spec).await?;
    let duplicates = DuplicateEvents::for_product(&lab, &swarm).await?;
    let before = swarm.ids(&lab, &swarm.workers).await?;
    let manager = swarm.a_manager(&lab).await?;
    swarm.set_workers(&lab, 1).await?;
    let after = group_settles(&lab, &swarm.workers, 1).await?;
    let gone: Vec<String> = before
        .into_iter()
        .filter(|id| !after.contains(id))
        .collect();
    assert_eq!(gone.len(), 2);
    // Every second delivery found its action over (late) and changed nothing.
    wait::until(
        "every duplicate handled",
        Duration::from_secs(120),
        || async {
            let log = swarm.function_logs(&lab)?;
            let unseen: Vec<&String> = gone
                .iter()
                .filter(|id| {
                    !log.lines().any(|l| {
                        l.contains(id.as_str())
                            && (l.contains("no longer pending")
                                || l.contains("the instance is gone"))
                    })
                })
                .collect();
            Ok((unseen.is_empty().then_some(()), format!("{unseen:?}")))
        },
    )
    .await?;
    let done = terminations(&lab).await?;
    for id in &gone {
        let mine = done
            .iter()
            .filter(|c| c["instance_id"] == id.as_str())
            .count();
        assert_eq!(mine, 1, "{id} completed {mine} times");
    }
    let nodes = node_list(&lab, &manager).await?;
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert!(
        nodes.iter().all(|n| n.starts_with("Ready Active")),
        "{nodes:?}"
    );
    duplicates.remove(&lab).await?;
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}
