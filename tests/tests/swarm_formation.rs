//! The product in the lab: the swarmhook template, its lifecycle function (the real
//! binary, published to S3 as a zip), and groups of real nodes. The swarm forms by itself.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_autoscaling::types::LifecycleState;
use serde_json::Value;
use swarmhook_lab_tests::{unique_name, wait, Lab, LabError};

const TEMPLATE: &str = "../../../infra/aws/swarmhook.yaml";

struct Swarm {
    stack_id: String,
    managers: String,
    workers: String,
    stack: String,
}

async fn launch(
    lab: &Lab,
    subnet_a: &str,
    subnet_b: &str,
    managers: u32,
    workers: u32,
) -> anyhow::Result<Swarm> {
    launch_named(
        lab,
        &unique_name("swarm"),
        subnet_a,
        subnet_b,
        managers,
        workers,
    )
    .await
}

async fn launch_named(
    lab: &Lab,
    stack: &str,
    subnet_a: &str,
    subnet_b: &str,
    managers: u32,
    workers: u32,
) -> anyhow::Result<Swarm> {
    let stack = stack.to_owned();
    let bucket = unique_name("code");
    lab.publish_function("swarmhook-lifecycle", &bucket, "lifecycle.zip")?;
    let (m, w) = (managers.to_string(), workers.to_string());
    let stack_id = lab
        .create_stack(
            &stack,
            TEMPLATE,
            &[
                ("ManagerCount", &m),
                ("WorkerCount", &w),
                ("ImageId", "ami-12c6146b"),
                ("VpcCidr", "10.200.0.0/16"),
                ("SubnetACidr", subnet_a),
                ("SubnetBCidr", subnet_b),
                ("CodeBucket", &bucket),
                ("LifecycleCodeKey", "lifecycle.zip"),
            ],
        )
        .await?;
    let status = lab.settled_status(&stack_id).await?;
    anyhow::ensure!(status == "CREATE_COMPLETE", "stack {stack}: {status}");
    let outputs = lab.stack_outputs(&stack_id).await?;
    Ok(Swarm {
        stack_id,
        managers: outputs.get("ManagerGroupName").cloned().unwrap_or_default(),
        workers: outputs.get("WorkerGroupName").cloned().unwrap_or_default(),
        stack,
    })
}

async fn all_in_service(lab: &Lab, swarm: &Swarm, want: usize) -> Result<Vec<String>, LabError> {
    wait::until(
        &format!("{want} instances InService"),
        Duration::from_secs(300),
        || async {
            let mut all = lab.group_instances(&swarm.managers).await?;
            all.extend(lab.group_instances(&swarm.workers).await?);
            let ready: Vec<String> = all
                .iter()
                .filter(|(_, s)| *s == LifecycleState::InService)
                .map(|(id, _)| id.clone())
                .collect();
            Ok((
                (ready.len() == want).then(|| ready.clone()),
                format!("{all:?}"),
            ))
        },
    )
    .await
}

#[tokio::test]
async fn three_managers_and_three_workers_form_one_swarm_by_themselves() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let swarm = launch(&lab, "10.200.41.0/24", "10.200.42.0/24", 3, 3).await?;
    let instances = all_in_service(&lab, &swarm, 6).await?;

    // One cluster, six Ready nodes, three of them managers, as every node sees it.
    let managers: BTreeSet<String> = lab
        .group_instances(&swarm.managers)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut cluster_ids = BTreeSet::new();
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
            cluster_ids.insert(c.to_owned());
        }
    }
    assert_eq!(cluster_ids.len(), 1, "{cluster_ids:?}");
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

    // Each launch action was completed once, with CONTINUE, by the function (by token).
    completed_once_by_token(&lab, &instances).await?;

    // The tokens are in their parameters and nowhere else: not in a log, not in an output.
    let prefix = format!("/swarmhook/{}/join-token", swarm.stack);
    let mut tokens = Vec::new();
    for role in ["worker", "manager"] {
        let p = lab
            .ssm()
            .get_parameter()
            .name(format!("{prefix}/{role}"))
            .with_decryption(true)
            .send()
            .await?;
        let value = p
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default()
            .to_owned();
        assert!(value.starts_with("SWMTKN-1-"), "{role} token published");
        tokens.push(value);
    }
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let mut haystacks: Vec<(String, String)> = outputs
        .into_iter()
        .map(|(k, v)| (format!("output {k}"), v))
        .collect();
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
    for (name, text) in &haystacks {
        for t in &tokens {
            assert!(!text.contains(t.as_str()), "a join token appears in {name}");
        }
    }
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}

/// Each instance's launch action was completed exactly once, with CONTINUE, by token.
async fn completed_once_by_token(lab: &Lab, instances: &[String]) -> anyhow::Result<()> {
    let status = lab.status().await?;
    let completed = status["lifecycle"]["completed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for id in instances {
        let mine: Vec<&Value> = completed
            .iter()
            .filter(|c| c["instance_id"] == id.as_str())
            .collect();
        anyhow::ensure!(
            mine.len() == 1,
            "{id} completed {} times: {mine:?}",
            mine.len()
        );
        anyhow::ensure!(
            mine[0]["result"] == "CONTINUE" && mine[0]["by"] == "token",
            "{id}: {mine:?}"
        );
    }
    Ok(())
}

/// The cluster ids the instances' engines report (managers know it; workers do not).
async fn cluster_ids(lab: &Lab, instances: &[String]) -> anyhow::Result<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    for id in instances {
        let out = lab
            .run_ok(id, "docker info --format '{{json .Swarm}}'")
            .await?;
        let info: Value = serde_json::from_str(out.trim())?;
        anyhow::ensure!(
            info["LocalNodeState"] == "active",
            "{id} is not in a swarm: {info}"
        );
        if let Some(c) = info["Cluster"]["ID"].as_str() {
            ids.insert(c.to_owned());
        }
    }
    Ok(ids)
}

#[tokio::test]
async fn five_managers_launched_at_once_make_one_cluster() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let swarm = launch(&lab, "10.200.43.0/24", "10.200.44.0/24", 5, 0).await?;
    let instances = all_in_service(&lab, &swarm, 5).await?;
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
    let stack = unique_name("swarm");
    // A second rule with the same pattern into the same queue: EventBridge delivers each
    // lifecycle event once per matching rule, so the function gets every event twice.
    let events = aws_sdk_eventbridge::Client::new(&lab.sdk);
    let pattern = serde_json::json!({
        "source": ["aws.autoscaling"],
        "detail": {"AutoScalingGroupName": [format!("{stack}-managers"), format!("{stack}-workers")]}
    });
    let rule = unique_name("duplicate");
    events
        .put_rule()
        .name(&rule)
        .event_pattern(pattern.to_string())
        .send()
        .await?;
    // The template names the queue after the stack, so the rule can point at it first.
    let queue_arn = format!(
        "arn:aws:sqs:{}:123456789012:{stack}-lifecycle",
        lab.info.region
    );
    events
        .put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("again")
                .arn(queue_arn)
                .build()?,
        )
        .send()
        .await?;
    let swarm = launch_named(&lab, &stack, "10.200.45.0/24", "10.200.46.0/24", 1, 3).await?;
    let instances = all_in_service(&lab, &swarm, 4).await?;
    assert_eq!(cluster_ids(&lab, &instances).await?.len(), 1);
    let listing = lab
        .run_ok(&instances[0], "docker node ls --format '{{.Status}}'")
        .await?;
    assert_eq!(
        listing.lines().filter(|l| *l == "Ready").count(),
        4,
        "{listing}"
    );
    // Give the duplicates time to arrive and be handled, then count completions.
    tokio::time::sleep(Duration::from_secs(10)).await;
    completed_once_by_token(&lab, &instances).await?;
    // Each launch's second delivery found its action already completed.
    let log = std::fs::read_dir(std::path::Path::new(&lab.info.run_dir).join("functions"))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&stack) && name.ends_with(".log")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    for id in &instances {
        let late = log
            .lines()
            .filter(|l| l.contains("no longer pending") && l.contains(id.as_str()))
            .count();
        assert!(late >= 1, "no duplicate delivery of {id}'s event was seen");
    }
    events
        .remove_targets()
        .rule(&rule)
        .ids("again")
        .send()
        .await?;
    events.delete_rule().name(&rule).send().await?;
    lab.delete_stack(&swarm.stack_id).await?;
    Ok(())
}
