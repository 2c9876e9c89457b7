//! Repair: what no clean hook covers. A node whose Docker engine stopped before its
//! instance was terminated is still found (by the node id recorded when it joined) and
//! removed by the terminate hook; instances killed outside any hook, the leader among
//! them, are removed by the scheduled reconcile, and the group's replacements join; nodes
//! dead while their instance runs are replaced through the cloud.

use std::collections::BTreeSet;
use std::time::Duration;

use swarmhook_lab_tests::product::{terminations, Product, ProductSpec};
use swarmhook_lab_tests::{wait, Lab, LabError};

/// One node as `docker node ls` on a manager reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    id: String,
    status: String,
    manager_status: String,
}

/// `docker node ls` on `manager`.
async fn nodes(lab: &Lab, manager: &str) -> Result<Vec<Node>, LabError> {
    let out = lab
        .run_ok(
            manager,
            "docker node ls --format '{{.ID}} {{.Status}} {{.ManagerStatus}}'",
        )
        .await?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some(Node {
                id: words.next()?.to_owned(),
                status: words.next()?.to_owned(),
                manager_status: words.next().unwrap_or_default().to_owned(),
            })
        })
        .collect())
}

/// Waits until the swarm, seen from `watcher`, is exactly `managers` serving managers
/// and `workers` Ready workers, and holds none of `gone`; firing the reconcile while
/// waiting when `reconcile` is set.
async fn swarm_becomes(
    lab: &Lab,
    watcher: &str,
    managers: usize,
    workers: usize,
    gone: &[String],
    reconcile: bool,
) -> Result<(), LabError> {
    let what = format!("{managers} managers and {workers} workers serving, without {gone:?}");
    let probe = || async {
        // A manager may be between leaders for a moment: not an answer yet.
        let Ok(all) = nodes(lab, watcher).await else {
            return Ok((None, "no answer from the watcher".into()));
        };
        let serving_managers = all
            .iter()
            .filter(|n| {
                n.status == "Ready" && ["Leader", "Reachable"].contains(&n.manager_status.as_str())
            })
            .count();
        let ready_workers = all
            .iter()
            .filter(|n| n.status == "Ready" && n.manager_status.is_empty())
            .count();
        let done = all.len() == managers + workers
            && serving_managers == managers
            && ready_workers == workers
            && !all.iter().any(|n| gone.contains(&n.id));
        Ok((done.then_some(()), format!("{all:?}")))
    };
    let timeout = Duration::from_secs(300);
    if reconcile {
        wait::until_reconciled(lab, &what, timeout, probe).await
    } else {
        wait::until(&what, timeout, probe).await
    }
}

/// The node ids the registry holds for `instances`.
async fn registered(
    lab: &Lab,
    swarm: &Product,
    instances: &[&String],
) -> anyhow::Result<Vec<String>> {
    let record = swarm.record(lab).await?;
    instances
        .iter()
        .map(|id| {
            record
                .node_of(id)
                .map(|n| n.node_id.clone())
                .ok_or_else(|| anyhow::anyhow!("{id} is not in the registry: {:?}", record.nodes))
        })
        .collect()
}

/// The store holds no trace of `instances`, and lists exactly the managers `managers`.
async fn store_is_clean(
    lab: &Lab,
    swarm: &Product,
    instances: &[&String],
    managers: &[String],
) -> anyhow::Result<()> {
    let record = swarm.record(lab).await?;
    for id in instances {
        assert!(
            record.node_of(id).is_none(),
            "{id} still registered: {:?}",
            record.nodes
        );
        assert!(!record.has_manager(id), "{id} still a recorded manager");
        assert!(record.departure_of(id).is_none(), "{id} still departing");
    }
    assert!(record.departures.is_empty(), "{:?}", record.departures);
    let recorded: BTreeSet<&str> = record
        .managers
        .iter()
        .map(|m| m.instance_id.as_str())
        .collect();
    let want: BTreeSet<&str> = managers.iter().map(String::as_str).collect();
    assert_eq!(recorded, want, "the store's managers are the group's");
    Ok(())
}

#[tokio::test]
async fn nodes_whose_engine_stopped_before_their_hook_are_demoted_and_removed() -> anyhow::Result<()>
{
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.71.0/24", "10.200.72.0/24", 3, 2);
    let swarm = Product::launch(&lab, &spec).await?;
    let workers = swarm.ids(&lab, &swarm.workers).await?;
    let (watcher, manager) = swarm.leader_and_another(&lab).await?;
    let worker = workers[0].clone();
    let stopped = [&manager, &worker];
    let node_ids = registered(&lab, &swarm, &stopped).await?;

    for id in stopped {
        lab.stop_engine(id).await?;
    }
    // The swarm sees both down before anything terminates them.
    wait::until(
        "both stopped nodes Down",
        Duration::from_secs(120),
        || async {
            let all = nodes(&lab, &watcher).await?;
            let down = all
                .iter()
                .filter(|n| node_ids.contains(&n.id) && n.status == "Down")
                .count();
            Ok(((down == 2).then_some(()), format!("{all:?}")))
        },
    )
    .await?;

    // The worker goes for good; the manager is replaced.
    for (id, decrement) in [(&worker, true), (&manager, false)] {
        lab.autoscaling()
            .terminate_instance_in_auto_scaling_group()
            .instance_id(id.as_str())
            .should_decrement_desired_capacity(decrement)
            .send()
            .await?;
    }
    swarm_becomes(&lab, &watcher, 3, 1, &node_ids, false).await?;

    // Each terminate action was completed once, by the function, after the removal.
    wait::until(
        "both terminate actions completed",
        Duration::from_secs(120),
        || async {
            let done = terminations(&lab).await?;
            let mine = done
                .iter()
                .filter(|c| stopped.iter().any(|id| c["instance_id"] == id.as_str()))
                .count();
            Ok(((mine == 2).then_some(()), format!("{done:?}")))
        },
    )
    .await?;
    let done = terminations(&lab).await?;
    for id in stopped {
        let mine: Vec<_> = done
            .iter()
            .filter(|c| c["instance_id"] == id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "{id}: {mine:?}");
        assert_eq!(mine[0]["result"], "CONTINUE", "{id}");
        assert_eq!(
            mine[0]["by"], "token",
            "{id}: completed by the function, not a timeout"
        );
    }
    let log = swarm.function_logs(&lab)?;
    let stepped = |id: &str, step: &str| {
        log.lines()
            .any(|l| l.contains(id) && l.contains(&format!(r#""step":"{step}""#)))
    };
    assert!(
        stepped(&manager, "demote"),
        "{manager} was not demoted first"
    );
    for id in stopped {
        assert!(stepped(id, "remove-node"), "{id}: no remove-node step");
        assert!(
            !stepped(id, "leave"),
            "{id}: its engine was stopped, nothing could leave"
        );
    }
    // The replacement manager's launch action completes once it is recorded.
    swarm.in_service(&lab, 4).await?;
    let now_managers = swarm.ids(&lab, &swarm.managers).await?;
    store_is_clean(&lab, &swarm, &stopped, &now_managers).await?;
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

#[tokio::test]
async fn instances_killed_outside_any_hook_the_leader_among_them_are_removed_by_reconcile(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.73.0/24", "10.200.74.0/24", 3, 2);
    let swarm = Product::launch(&lab, &spec).await?;
    let workers = swarm.ids(&lab, &swarm.workers).await?;
    let (leader, watcher) = swarm.leader_and_another(&lab).await?;
    let worker = workers[0].clone();
    let killed = [&leader, &worker];
    let node_ids = registered(&lab, &swarm, &killed).await?;

    // As from the EC2 console (`make lab-kill`): no hook runs; the groups replace them.
    for id in killed {
        lab.kill(id).await?;
    }
    // The two managers left elect a leader of their own: the swarm survives.
    wait::until("a new leader", Duration::from_secs(120), || async {
        let all = nodes(&lab, &watcher).await.unwrap_or_default();
        let new_leader = all
            .iter()
            .any(|n| n.manager_status == "Leader" && !node_ids.contains(&n.id));
        Ok((new_leader.then_some(()), format!("{all:?}")))
    })
    .await?;

    // Reconcile (fired every ten seconds rather than every minute) removes both ghosts;
    // the replacement manager joins once the dead one is gone.
    swarm_becomes(&lab, &watcher, 3, 2, &node_ids, true).await?;

    // No hook ran for them; reconcile removed them, demoting the dead leader first.
    let done = terminations(&lab).await?;
    for id in killed {
        assert!(
            !done.iter().any(|c| c["instance_id"] == id.as_str()),
            "{id} had a terminate action"
        );
    }
    let log = swarm.function_logs(&lab)?;
    let said = |id: &str, what: &str| log.lines().any(|l| l.contains(id) && l.contains(what));
    for id in killed {
        assert!(said(id, "a ghost"), "{id}: reconcile never saw the ghost");
        assert!(
            said(id, r#""step":"remove-node""#),
            "{id}: not removed by reconcile"
        );
    }
    assert!(
        said(&leader, r#""step":"demote""#),
        "the dead leader was not demoted first"
    );
    // The store is corrected to what is observed, the metrics say so.
    swarm.in_service(&lab, 5).await?;
    let now_managers = swarm.ids(&lab, &swarm.managers).await?;
    store_is_clean(&lab, &swarm, &killed, &now_managers).await?;
    assert!(
        log.lines()
            .any(|l| l.contains(r#""Removals":"#) && l.contains(r#""Namespace":"Swarmhook""#)),
        "no metrics line from reconcile"
    );
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

/// Instances whose nodes are dead while they run: a manager's (the leader's) and a
/// worker's engines stop, with nothing terminating them. Reconcile notes them, marks each
/// instance unhealthy once dead for `DeadNodeSeconds`, and the group replaces it through
/// the terminate hook, while the managers scale out from 3 to 5 at the same time (a join
/// is not held for the dead manager: 2 of 3 answer, a majority).
#[tokio::test]
async fn nodes_dead_while_their_instance_runs_are_replaced_while_managers_scale_out(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec =
        ProductSpec::new("10.200.75.0/24", "10.200.76.0/24", 3, 2).answer("DeadNodeSeconds", "30");
    let swarm = Product::launch(&lab, &spec).await?;
    let workers = swarm.ids(&lab, &swarm.workers).await?;
    let (leader, watcher) = swarm.leader_and_another(&lab).await?;
    let worker = workers[0].clone();
    let dead = [&leader, &worker];
    let node_ids = registered(&lab, &swarm, &dead).await?;

    for id in dead {
        lab.stop_engine(id).await?;
    }
    lab.autoscaling()
        .update_auto_scaling_group()
        .auto_scaling_group_name(&swarm.managers)
        .max_size(5)
        .desired_capacity(5)
        .send()
        .await?;

    // Reconcile (fired every ten seconds) replaces both; the scale-out completes beside.
    swarm_becomes(&lab, &watcher, 5, 2, &node_ids, true).await?;
    swarm.gone_from_groups(&lab, &dead).await?;
    swarm.in_service(&lab, 7).await?;

    // Each went through its terminate hook, completed once by the function.
    let done = terminations(&lab).await?;
    for id in dead {
        let mine: Vec<_> = done
            .iter()
            .filter(|c| c["instance_id"] == id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "{id}: {mine:?}");
        assert_eq!(mine[0]["by"], "token", "{id}: completed by the function");
    }
    let log = swarm.function_logs(&lab)?;
    for id in dead {
        assert!(
            log.lines()
                .any(|l| l.contains(id.as_str()) && l.contains("marking the instance unhealthy")),
            "{id}: never marked unhealthy"
        );
    }
    let now_managers = swarm.ids(&lab, &swarm.managers).await?;
    store_is_clean(&lab, &swarm, &dead, &now_managers).await?;
    let record = swarm.record(&lab).await?;
    assert!(record.suspects.is_empty(), "{:?}", record.suspects);
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}
