//! The lab polls a function's SQS event source and delivers batches, as Lambda does:
//! successes are deleted, reported item failures come back, and after the queue's
//! maxReceiveCount they go to its dead-letter queue. Logs land in the function's file.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use swarmhook_lab_tests::{unique_name, wait, Lab};

/// The `lab-sqs-source.yaml` stack and the queue its probe reports to.
struct SqsSource {
    stack: String,
    report: String,
    work: String,
    dead: String,
    function: String,
}

async fn sqs_source(lab: &Lab) -> anyhow::Result<SqsSource> {
    let report = lab.create_queue("sqs-reports").await?;
    let stack = lab
        .create_stack(
            &unique_name("sqs-source"),
            "lab-sqs-source.yaml",
            &[("ReportQueueUrl", &report)],
        )
        .await?;
    anyhow::ensure!(lab.settled_status(&stack).await? == "CREATE_COMPLETE");
    let out = lab.stack_outputs(&stack).await?;
    let output = |k: &str| {
        out.get(k)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no output {k}"))
    };
    Ok(SqsSource {
        work: output("WorkQueueUrl")?,
        dead: output("DeadLetterQueueUrl")?,
        function: output("FunctionName")?,
        stack,
        report,
    })
}

#[tokio::test]
async fn batches_are_delivered_and_only_reported_failures_come_back() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let sqs = lab.sqs();
    let SqsSource {
        stack,
        report,
        work,
        dead,
        function,
    } = sqs_source(&lab).await?;

    for item in ["ok-1", "fail-2", "ok-3"] {
        sqs.send_message()
            .queue_url(&work)
            .message_body(json!({ "item": item }).to_string())
            .send()
            .await?;
    }

    let processed: Vec<Value> = lab.take_messages(&report, 2).await?;
    let processed: BTreeSet<String> = processed
        .iter()
        .filter_map(|v| v["Processed"].as_str())
        .filter_map(|body| serde_json::from_str::<Value>(body).ok())
        .filter_map(|v| v["item"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        processed,
        BTreeSet::from(["ok-1".to_owned(), "ok-3".to_owned()])
    );

    // The reported failure comes back, and after two receives lands in the DLQ.
    let dead_letters: Vec<Value> = lab.take_messages(&dead, 1).await?;
    assert_eq!(dead_letters[0]["item"], "fail-2");

    // The successes were deleted: they are not delivered again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let again = sqs.receive_message().queue_url(&report).send().await?;
    assert!(again.messages().is_empty(), "{:?}", again.messages());

    // Every invocation is in the function's log file.
    let log = std::path::Path::new(&lab.info.run_dir)
        .join("functions")
        .join(format!("{function}.log"));
    let text = std::fs::read_to_string(&log)?;
    assert!(text.matches("START RequestId").count() >= 2, "{text}");
    assert!(text.contains("REPORT RequestId"), "{text}");
    lab.delete_stack(&stack).await?;
    Ok(())
}

#[tokio::test]
async fn an_invocation_past_the_functions_timeout_is_killed_and_its_batch_retried(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let sqs = lab.sqs();
    let SqsSource {
        stack,
        work,
        dead,
        function,
        ..
    } = sqs_source(&lab).await?;

    sqs.send_message()
        .queue_url(&work)
        .message_body(json!({ "item": "sleep-1" }).to_string())
        .send()
        .await?;
    // The function's Timeout is 5 s: each try is killed; after two tries, the DLQ.
    let dead_letters: Vec<Value> = lab.take_messages(&dead, 1).await?;
    assert_eq!(dead_letters[0]["item"], "sleep-1");
    let journal = std::path::Path::new(&lab.info.run_dir)
        .join("functions")
        .join(format!("{function}.invocations.jsonl"));
    // The queue may move the message on a moment before the second kill is recorded.
    wait::until(
        "two timed-out invocations",
        Duration::from_secs(30),
        || async {
            let timeouts = std::fs::read_to_string(&journal)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["error_type"] == "Sandbox.Timedout")
                .count();
            Ok((
                (timeouts >= 2).then_some(()),
                format!("{timeouts} in {}", journal.display()),
            ))
        },
    )
    .await?;
    lab.delete_stack(&stack).await?;
    Ok(())
}
