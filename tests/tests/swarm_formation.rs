//! The product in the lab: the swarmhook template, its functions (the real binaries,
//! published to S3 as zips), and groups of real nodes. The swarm forms by itself, and the
//! stack is CREATE_COMPLETE only once it has.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_autoscaling::types::LifecycleState;
use serde_json::Value;
use swarmhook_lab_tests::product::{
    cluster_ids, completed_once_by_token, DuplicateEvents, Product, ProductSpec,
};
use swarmhook_lab_tests::{unique_name, wait, Lab, LabError};

#[tokio::test]
async fn three_managers_and_three_workers_form_one_swarm_before_create_complete(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.41.0/24", "10.200.42.0/24", 3, 3);
    let swarm = Product::launch(&lab, &spec).await?;

    // At CREATE_COMPLETE, with no further wait: six instances InService, six Ready nodes.
    let all = swarm.instances(&lab).await?;
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(
        all.iter().all(|(_, s)| *s == LifecycleState::InService),
        "CREATE_COMPLETE before every instance was in service: {all:?}"
    );
    let instances: Vec<String> = all.into_iter().map(|(id, _)| id).collect();
    let managers: BTreeSet<String> = lab
        .group_instances(&swarm.managers)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut ids = BTreeSet::new();
    for id in &instances {
        let out = lab
            .run_ok(id, "docker info --format '{{json .Swarm}}'")
            .await?;
        let info: Value = serde_json::from_str(out.trim())?;
        assert_eq!(info["LocalNodeState"], "active", "{id}: {info}");
        assert_eq!(
            info["ControlAvailable"].as_bool(),
            Some(managers.contains(id)),
            "{id}"
        );
        if let Some(c) = info["Cluster"]["ID"].as_str() {
            ids.insert(c.to_owned());
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let leader = managers.iter().next().cloned().unwrap_or_default();
    let listing = lab
        .run_ok(
            &leader,
            "docker node ls --format '{{.Status}} {{.ManagerStatus}}'",
        )
        .await?;
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 6, "{listing}");
    assert!(lines.iter().all(|l| l.starts_with("Ready")), "{listing}");
    assert_eq!(
        lines.iter().filter(|l| l.ends_with("Leader")).count(),
        1,
        "{listing}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.ends_with("Reachable")).count(),
        2,
        "{listing}"
    );

    // Each group was signalled once per instance, by the lifecycle function.
    let reasons = lab.stack_event_reasons(&swarm.stack_id).await?;
    for id in &instances {
        let signals = reasons
            .iter()
            .filter(|r| r.as_str() == format!("Received SUCCESS signal with UniqueId {id}"))
            .count();
        assert_eq!(signals, 1, "{id}: {reasons:?}");
    }

    // Each launch action was completed exactly once, with CONTINUE, by the function.
    completed_once_by_token(&lab, &instances).await?;

    // The tokens are in their parameters and nowhere else: not in a log, a stack event,
    // an output, or the text of any command sent to a node.
    let tokens = swarm.tokens(&lab).await?;
    for t in &tokens {
        assert!(t.starts_with("SWMTKN-1-"), "token published");
    }
    let mut haystacks: Vec<(String, String)> = lab
        .stack_outputs(&swarm.stack_id)
        .await?
        .into_iter()
        .map(|(k, v)| (format!("output {k}"), v))
        .collect();
    haystacks.push(("stack events".into(), reasons.join("\n")));
    let run_dir = std::path::Path::new(&lab.info.run_dir);
    for entry in std::fs::read_dir(run_dir.join("functions"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "log" || e == "jsonl") {
            haystacks.push((path.display().to_string(), std::fs::read_to_string(&path)?));
        }
    }
    haystacks.push((
        "lab.log".into(),
        std::fs::read_to_string(run_dir.join("lab.log"))?,
    ));
    // Each node's engine log too (the nodes are still up).
    for id in &instances {
        let path = run_dir.join("nodes").join(id).join("dockerd.log");
        haystacks.push((path.display().to_string(), std::fs::read_to_string(&path)?));
    }
    let commands = lab.ssm().list_commands().send().await?;
    let mut scripts = 0;
    for c in commands.commands() {
        if c.instance_ids().iter().any(|i| instances.contains(i)) {
            scripts += 1;
            let text = format!("{:?} {:?}", c.parameters(), c.comment());
            haystacks.push((format!("command {}", c.command_id().unwrap_or("?")), text));
        }
    }
    assert!(scripts >= 6, "the nodes' commands were checked ({scripts})");
    for (name, text) in &haystacks {
        for t in &tokens {
            assert!(!text.contains(t.as_str()), "a join token appears in {name}");
        }
    }
    lab.delete_stack(&swarm.stack_id).await?;
    assert_eq!(
        lab.settled_status(&swarm.stack_id).await?,
        "DELETE_COMPLETE"
    );
    Ok(())
}

#[tokio::test]
async fn five_managers_launched_at_once_make_one_cluster() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.43.0/24", "10.200.44.0/24", 5, 0);
    let swarm = Product::launch(&lab, &spec).await?;
    let instances = swarm.in_service(&lab, 5).await?;
    assert_eq!(cluster_ids(&lab, &instances).await?.len(), 1);
    let listing = lab
        .run_ok(
            &instances[0],
            "docker node ls --format '{{.ManagerStatus}}'",
        )
        .await?;
    let mut statuses: Vec<&str> = listing.lines().collect();
    statuses.sort();
    assert_eq!(
        statuses,
        ["Leader", "Reachable", "Reachable", "Reachable", "Reachable"],
        "{listing}"
    );
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

#[tokio::test]
async fn every_event_delivered_twice_still_makes_one_swarm_and_completes_each_action_once(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.45.0/24", "10.200.46.0/24", 1, 3);
    let (swarm, duplicates) = DuplicateEvents::from_the_start(&lab, &spec).await?;
    let status = lab.settled_status(&swarm.stack_id).await?;
    assert_eq!(status, "CREATE_COMPLETE");
    let instances = swarm.in_service(&lab, 4).await?;
    assert_eq!(cluster_ids(&lab, &instances).await?.len(), 1);
    let listing = lab
        .run_ok(&instances[0], "docker node ls --format '{{.Status}}'")
        .await?;
    assert_eq!(
        listing.lines().filter(|l| *l == "Ready").count(),
        4,
        "{listing}"
    );
    // Each launch's second delivery finds its action already completed.
    wait::until(
        "every duplicate delivery handled",
        Duration::from_secs(60),
        || async {
            let log = swarm.function_logs(&lab)?;
            let unseen: Vec<&String> = instances
                .iter()
                .filter(|id| {
                    !log.lines()
                        .any(|l| l.contains("no longer pending") && l.contains(id.as_str()))
                })
                .collect();
            Ok((unseen.is_empty().then_some(()), format!("{unseen:?}")))
        },
    )
    .await?;
    completed_once_by_token(&lab, &instances).await?;

    // A message that is no lifecycle event goes to the dead-letter queue at once; an Auto
    // Scaling test notification is taken and ignored. Neither changes anything.
    let sqs = lab.sqs();
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let output = |name: &str| {
        outputs
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no {name} in {outputs:?}"))
    };
    let (queue, dead) = (output("LifecycleQueueUrl")?, output("DeadLetterQueueUrl")?);
    let junk = serde_json::json!({"not": "an event", "marker": unique_name("junk")}).to_string();
    let test_notification = serde_json::json!({
        "Service": "AWS Auto Scaling", "Event": "autoscaling:TEST_NOTIFICATION",
        "AutoScalingGroupName": swarm.workers,
    });
    for body in [junk.clone(), test_notification.to_string()] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await?;
    }
    let dead_letter = wait::until(
        "the junk in the dead-letter queue",
        Duration::from_secs(60),
        || async {
            let got = sqs
                .receive_message()
                .queue_url(&dead)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|e| LabError::aws("ReceiveMessage", e))?;
            let bodies: Vec<String> = got
                .messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned))
                .collect();
            Ok((
                bodies.iter().find(|b| **b == junk).cloned(),
                format!("{bodies:?}"),
            ))
        },
    )
    .await?;
    assert_eq!(dead_letter, junk);
    wait::until(
        "the test notification ignored",
        Duration::from_secs(60),
        || async {
            let log = swarm.function_logs(&lab)?;
            Ok((
                log.contains("test notification: nothing to do")
                    .then_some(()),
                String::new(),
            ))
        },
    )
    .await?;
    completed_once_by_token(&lab, &instances).await?;

    duplicates.remove(&lab).await?;
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

#[tokio::test]
async fn a_worker_launched_before_any_manager_joins_once_the_swarm_exists() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.47.0/24", "10.200.48.0/24", 1, 1);
    let managers = format!("{}-managers", spec.stack);
    // The manager group's launches wait: the worker comes first, with no manager anywhere.
    lab.hold_launches(&managers, true).await?;
    let swarm = Product::create(&lab, &spec).await?;
    let worker = wait::until("the worker launched", Duration::from_secs(120), || async {
        let w = lab.group_instances(&swarm.workers).await?;
        Ok((w.first().map(|(id, _)| id.clone()), format!("{w:?}")))
    })
    .await?;
    // The function keeps answering "not yet" for it while there is no swarm.
    wait::until(
        "the worker told to wait twice",
        Duration::from_secs(120),
        || async {
            let log = swarm.function_logs(&lab)?;
            let waits = log
                .lines()
                .filter(|l| l.contains("retrying later") && l.contains(worker.as_str()))
                .count();
            Ok(((waits >= 2).then_some(()), format!("{waits} retries")))
        },
    )
    .await?;
    assert!(
        lab.group_instances(&swarm.managers).await?.is_empty(),
        "no manager yet"
    );
    assert_eq!(
        lab.group_instances(&swarm.workers).await?,
        vec![(worker.clone(), LifecycleState::PendingWait)]
    );
    let status = lab.stack_status(&swarm.stack_id).await?;
    assert_eq!(status, "CREATE_IN_PROGRESS");

    lab.hold_launches(&managers, false).await?;
    let status = lab.settled_status(&swarm.stack_id).await?;
    assert_eq!(status, "CREATE_COMPLETE");
    let instances = swarm.in_service(&lab, 2).await?;
    assert!(instances.contains(&worker));
    assert_eq!(cluster_ids(&lab, &instances).await?.len(), 1);
    completed_once_by_token(&lab, &instances).await?;
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}
