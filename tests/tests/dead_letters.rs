//! A failure that asking again cannot cure is not retried to the queue's receive limit:
//! the function completes the action (a launch: ABANDON, so the group replaces the
//! instance) and dead-letters the message at once, with its reason.

use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::{wait, Lab, LabError};

/// The attribute the lifecycle function puts its reason in.
const REASON: &str = "swarmhook-reason";

#[tokio::test]
async fn a_launch_that_cannot_succeed_is_abandoned_and_dead_lettered_at_once() -> anyhow::Result<()>
{
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.97.0/24", "10.200.98.0/24", 1, 1);
    let swarm = Product::launch(&lab, &spec).await?;
    let before = swarm.in_service(&lab, 2).await?;
    let dead = swarm.queue_url(&lab, "LifecycleDeadLetters").await?;

    // The cluster's table goes: every store call now answers ResourceNotFoundException,
    // which no retry cures.
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let table = outputs
        .get("ClusterTableName")
        .ok_or_else(|| anyhow::anyhow!("no ClusterTableName output"))?;
    lab.dynamodb()
        .delete_table()
        .table_name(table)
        .send()
        .await?;
    swarm.set_workers(&lab, 2).await?;

    let sqs = lab.sqs();
    let (body, reason, receives) = wait::until(
        "a launch event dead-lettered with its reason",
        Duration::from_secs(120),
        || async {
            let got = sqs
                .receive_message()
                .queue_url(&dead)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|e| LabError::aws("ReceiveMessage", e))?;
            let found = got.messages().iter().find_map(|m| {
                let body = m.body()?.to_owned();
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get(REASON))
                    .and_then(|v| v.string_value())?
                    .to_owned();
                Some((body, reason, m.attributes().cloned()))
            });
            Ok((found, format!("{} messages", got.messages().len())))
        },
    )
    .await?;
    let event: serde_json::Value = serde_json::from_str(&body)?;
    let instance = event["detail"]["EC2InstanceId"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("not a lifecycle event: {body}"))?
        .to_owned();
    assert!(
        !before.contains(&instance),
        "{instance} was already in service"
    );
    assert_eq!(
        event["detail"]["LifecycleTransition"],
        "autoscaling:EC2_INSTANCE_LAUNCHING"
    );
    assert!(
        reason.contains("ResourceNotFound") && reason.contains("GetItem"),
        "the reason names the failed call: {reason}"
    );
    // Moved by the function on its first receive, not by the queue's redrive.
    let receive_count = receives
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .cloned();
    assert_eq!(receive_count.as_deref(), Some("1"), "{receives:?}");

    // Its launch action was completed once, ABANDON, by its token.
    let status = lab.status().await?;
    let completed: Vec<serde_json::Value> = status["lifecycle"]["completed"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            c["instance_id"] == instance.as_str()
                && c["transition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
        })
        .collect();
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0]["result"], "ABANDON");
    assert_eq!(completed[0]["by"], "token");

    // Its termination could not reach the store either: it went on (CONTINUE), as an
    // instance that is leaving leaves either way.
    let left: Vec<serde_json::Value> = (status["lifecycle"]["completed"].as_array())
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            c["instance_id"] == instance.as_str()
                && c["transition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
        })
        .collect();
    assert!(left.iter().all(|c| c["result"] == "CONTINUE"), "{left:?}");

    // No more replacements to abandon.
    swarm.set_workers(&lab, 1).await?;
    Ok(())
}
