//! The `Custom::Swarm` resource: its function (the real binary) answers CloudFormation
//! for Create, Update (token rotation) and Delete, for a Delete after a failed Create, and
//! for requests it cannot act on, and changes nothing on bad input.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use swarmhook_lab_tests::answer_catcher::AnswerCatcher;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::{unique_name, wait, Lab, LabError};

/// `docker <args>` against an instance's own engine, from the host.
fn docker_on(node: &Value, args: &[&str]) -> anyhow::Result<std::process::Output> {
    let host = node["docker_host"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no docker_host: {node}"))?;
    Ok(std::process::Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", host)
        .output()?)
}

/// The custom resource requests the lab has answered for a stack.
async fn resource_history(lab: &Lab, stack: &str) -> anyhow::Result<Vec<Value>> {
    let status = lab.status().await?;
    Ok(status["custom_resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["stack"] == stack)
        .collect())
}

#[tokio::test]
async fn rotation_refuses_the_old_tokens_and_admits_the_new_and_delete_removes_them(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.51.0/24", "10.200.52.0/24", 1, 1);
    let mut swarm = Product::launch(&lab, &spec).await?;
    let instances = swarm.in_service(&lab, 2).await?;
    let old = swarm.tokens(&lab).await?;
    let created = resource_history(&lab, &swarm.stack).await?;
    assert!(
        created.iter().any(|r| r["request_type"] == "Create"
            && r["status"] == "SUCCESS"
            && r["reason"]
                .as_str()
                .is_some_and(|t| t.contains("1 managers, 1 workers"))),
        "{created:?}"
    );

    let status = swarm.update(&lab, &[("RotateJoinTokens", "first")]).await?;
    assert_eq!(status, "UPDATE_COMPLETE");
    let new = swarm.tokens(&lab).await?;
    for (o, n) in old.iter().zip(&new) {
        assert!(n.starts_with("SWMTKN-1-"));
        assert_ne!(o, n, "a token was not rotated");
    }
    let history = resource_history(&lab, &swarm.stack).await?;
    let update = history
        .iter()
        .find(|r| r["request_type"] == "Update")
        .ok_or_else(|| anyhow::anyhow!("no Update answered: {history:?}"))?;
    assert_eq!(update["status"], "SUCCESS", "{update}");
    assert!(
        update["reason"]
            .as_str()
            .is_some_and(|r| r.contains("rotated the join tokens")),
        "{update}"
    );
    assert_eq!(update["physical_id"], format!("swarmhook-{}", swarm.stack));

    // An engine outside the swarm, in the stack's subnet: the old token is refused, the
    // new one admits it.
    let manager = swarm.a_manager(&lab).await?;
    let manager_addr = format!("{}:2377", lab.private_ip(&manager).await?);
    // Its own VPC and subnet, so that it holds nothing of the stack's (the lab's nodes
    // share one network, so it still reaches the managers).
    let vpc = lab.create_vpc("10.200.0.0/16").await?;
    let subnet = lab.create_subnet(&vpc, "10.200.53.0/24", None).await?;
    let outsider = lab
        .ec2()
        .run_instances()
        .image_id("ami-12c6146b")
        .subnet_id(subnet)
        .min_count(1)
        .max_count(1)
        .send()
        .await?
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no instance"))?;
    lab.wait_online(&outsider).await?;
    let node = lab
        .node(&outsider)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no node for {outsider}"))?;
    let refused = docker_on(&node, &["swarm", "join", "--token", &old[0], &manager_addr])?;
    assert!(
        !refused.status.success(),
        "the old worker token still works"
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("join token"),
        "refused for another reason: {said}"
    );
    let admitted = docker_on(&node, &["swarm", "join", "--token", &new[0], &manager_addr])?;
    assert!(
        admitted.status.success(),
        "the new worker token was refused: {}",
        String::from_utf8_lossy(&admitted.stderr)
    );
    lab.ec2()
        .terminate_instances()
        .instance_ids(&outsider)
        .send()
        .await?;

    // A second update that does not change RotateJoinTokens leaves the tokens alone.
    let status = swarm.update(&lab, &[("WorkerCount", "1")]).await?;
    assert_eq!(status, "UPDATE_COMPLETE");
    assert_eq!(swarm.tokens(&lab).await?, new);
    // ... and replaces no instance.
    let mut still = swarm.in_service(&lab, 2).await?;
    let mut first = instances.clone();
    still.sort();
    first.sort();
    assert_eq!(still, first);

    // Delete removes the tokens the functions created (the template does not own them).
    lab.delete_stack(&swarm.stack_id).await?;
    assert_eq!(
        lab.settled_status(&swarm.stack_id).await?,
        "DELETE_COMPLETE"
    );
    for role in ["worker", "manager"] {
        let name = format!("/swarmhook/{}/join-token/{role}", swarm.stack);
        let gone = lab.ssm().get_parameter().name(&name).send().await;
        assert!(gone.is_err(), "{name} was left behind");
    }
    let history = resource_history(&lab, &swarm.stack).await?;
    assert!(
        history
            .iter()
            .any(|r| r["request_type"] == "Delete" && r["status"] == "SUCCESS"),
        "{history:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_bad_spec_fails_the_create_and_the_delete_after_it_succeeds() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let stack = unique_name("badswarm");
    let stack_id = lab
        .create_stack(&stack, "lab-swarm-resource.yaml", &[("ManagerCount", "4")])
        .await?;
    assert_eq!(lab.settled_status(&stack_id).await?, "ROLLBACK_COMPLETE");
    let history = resource_history(&lab, &stack).await?;
    let kinds: Vec<(String, String)> = history
        .iter()
        .map(|r| {
            (
                r["request_type"].as_str().unwrap_or("").to_owned(),
                r["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Create".to_owned(), "FAILED".to_owned()),
            ("Delete".to_owned(), "SUCCESS".to_owned())
        ],
        "{history:?}"
    );
    let reason = history[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("ManagerCount") && reason.contains("1, 3, 5 or 7"),
        "{reason}"
    );
    // The same PhysicalResourceId in both answers.
    assert_eq!(history[0]["physical_id"], format!("swarmhook-{stack}"));
    assert_eq!(history[1]["physical_id"], history[0]["physical_id"]);
    let reasons = lab.stack_event_reasons(&stack_id).await?;
    assert!(
        reasons.iter().any(|r| r.contains("1, 3, 5 or 7")),
        "{reasons:?}"
    );
    Ok(())
}

/// Invokes the function directly with a request, as CloudFormation would send it.
async fn invoke(lab: &Lab, function: &str, request: &Value) -> anyhow::Result<Option<String>> {
    let out = aws_sdk_lambda::Client::new(&lab.sdk)
        .invoke()
        .function_name(function)
        .payload(aws_sdk_lambda::primitives::Blob::new(request.to_string()))
        .send()
        .await?;
    Ok(out.function_error().map(str::to_owned))
}

async fn recorded_spec(lab: &Lab, table: &str, cluster: &str) -> anyhow::Result<Value> {
    let item = aws_sdk_dynamodb::Client::new(&lab.sdk)
        .get_item()
        .table_name(table)
        .key("cluster", AttributeValue::S(cluster.to_owned()))
        .consistent_read(true)
        .send()
        .await?;
    let record = item
        .item()
        .and_then(|i| i.get("record"))
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| anyhow::anyhow!("no record for {cluster}"))?;
    Ok(serde_json::from_str::<Value>(record)?["spec"].clone())
}

#[tokio::test]
async fn malformed_requests_are_answered_failed_and_change_nothing() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let stack = unique_name("swarmres");
    let stack_id = lab
        .create_stack(&stack, "lab-swarm-resource.yaml", &[("ManagerCount", "3")])
        .await?;
    assert_eq!(lab.settled_status(&stack_id).await?, "CREATE_COMPLETE");
    let outputs = lab.stack_outputs(&stack_id).await?;
    let table = outputs.get("TableName").cloned().unwrap_or_default();
    let function = outputs.get("FunctionName").cloned().unwrap_or_default();
    let physical = outputs.get("SwarmId").cloned().unwrap_or_default();
    assert_eq!(physical, format!("swarmhook-{stack}"));
    let before = recorded_spec(&lab, &table, &stack).await?;
    assert_eq!(before["manager_count"], 3, "{before}");

    let mut catcher = AnswerCatcher::start().await?;
    let url = catcher.url.clone();
    let envelope = |kind: &str| {
        json!({
            "RequestType": kind,
            "ResponseURL": url,
            "StackId": stack_id,
            "RequestId": unique_name("req"),
            "LogicalResourceId": "Swarm",
            "ResourceType": "Custom::Swarm",
            "PhysicalResourceId": physical,
        })
    };
    let cases = [
        // (request, what the answer's reason must say)
        (
            json!({"ResourceProperties": "ManagerCount=5"}),
            "must be an object",
        ),
        (
            json!({"ResourceProperties": {"WorkerCount": "1"}}),
            "ManagerCount is required",
        ),
        (
            json!({"ResourceProperties": {"ManagerCount": "6", "WorkerCount": "1"}}),
            "1, 3, 5 or 7",
        ),
        (
            json!({"ResourceProperties": {"ManagerCount": "x".repeat(20_000), "WorkerCount": "1"}}),
            "whole number",
        ),
        (
            json!({"RequestType": "Explode", "ResourceProperties": {}}),
            "malformed",
        ),
    ];
    for (extra, want) in cases {
        let mut request = envelope("Update");
        request["OldResourceProperties"] = json!({"ManagerCount": "3", "WorkerCount": "2"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            request[k] = v.clone();
        }
        invoke(&lab, &function, &request).await?;
        let body = catcher
            .next(Duration::from_secs(60))
            .await
            .ok_or_else(|| anyhow::anyhow!("no answer to {want}"))?;
        assert!(body.len() <= 4096, "{} bytes", body.len());
        let answer: Value = serde_json::from_slice(&body)?;
        assert_eq!(answer["Status"], "FAILED", "{answer}");
        assert_eq!(answer["PhysicalResourceId"], physical.as_str(), "{answer}");
        assert_eq!(answer["RequestId"], request["RequestId"], "{answer}");
        let reason = answer["Reason"].as_str().unwrap_or_default();
        assert!(reason.contains(want), "{reason:?} should say {want:?}");
    }
    // Not a custom resource request at all: nowhere to answer, so the invocation fails.
    let error = invoke(&lab, &function, &json!({"hello": "world"})).await?;
    assert!(error.is_some(), "a non-request was accepted");
    assert!(catcher.next(Duration::from_secs(2)).await.is_none());

    // Nothing changed.
    assert_eq!(recorded_spec(&lab, &table, &stack).await?, before);
    lab.delete_stack(&stack_id).await?;
    wait::until("the stack deleted", Duration::from_secs(120), || async {
        let s = lab.stack_status(&stack_id).await?;
        Ok(((s == "DELETE_COMPLETE").then_some(()), s))
    })
    .await
    .map_err(|e: LabError| anyhow::anyhow!(e))?;
    Ok(())
}
