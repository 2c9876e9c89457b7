//! CloudFormation custom resources in the lab: Create, Update and Delete reach the function
//! named by ServiceToken (the real probe binary), and its answer moves the stack.

use serde_json::Value;
use swarmhook_lab_tests::{unique_name, wait, Lab, LabError};

async fn report_queue(lab: &Lab) -> anyhow::Result<String> {
    let url = lab
        .sqs()
        .create_queue()
        .queue_name(unique_name("probe-reports"))
        .send()
        .await?
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("CreateQueue returned no URL"))?;
    Ok(url)
}

/// The next `n` requests the probe reported, in order.
async fn reports(lab: &Lab, queue_url: &str, n: usize) -> anyhow::Result<Vec<Value>> {
    let sqs = lab.sqs();
    let got = std::sync::Mutex::new(Vec::new());
    let got_ref = &got;
    wait::until(
        &format!("{n} probe reports"),
        std::time::Duration::from_secs(90),
        || {
            let sqs = sqs.clone();
            async move {
                let out = sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .map_err(|e| LabError::aws("ReceiveMessage", e))?;
                for m in out.messages() {
                    let v: Value =
                        serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null);
                    if let Ok(mut g) = got_ref.lock() {
                        g.push(v);
                    }
                    if let Some(h) = m.receipt_handle() {
                        sqs.delete_message()
                            .queue_url(queue_url)
                            .receipt_handle(h)
                            .send()
                            .await
                            .map_err(|e| LabError::aws("DeleteMessage", e))?;
                    }
                }
                let count = got_ref.lock().map(|g| g.len()).unwrap_or(0);
                Ok(((count >= n).then_some(()), format!("{count} reports")))
            }
        },
    )
    .await?;
    Ok(got.into_inner().unwrap_or_default())
}

fn kinds(reports: &[Value]) -> Vec<&str> {
    reports
        .iter()
        .map(|r| r["RequestType"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn create_update_and_delete_reach_the_function_and_success_moves_the_stack(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let queue = report_queue(&lab).await?;
    let name = unique_name("probe");
    let stack = lab
        .create_stack(
            &name,
            "lab-custom-resource.yaml",
            &[("ReportQueueUrl", &queue), ("Marker", "one")],
        )
        .await?;
    assert_eq!(lab.settled_status(&stack).await?, "CREATE_COMPLETE");
    let created = reports(&lab, &queue, 1).await?;
    assert_eq!(kinds(&created), ["Create"]);
    assert_eq!(created[0]["Marker"], "one");
    let physical = created[0]["PhysicalResourceId"].clone();

    lab.update_stack(
        &stack,
        "lab-custom-resource.yaml",
        &[("ReportQueueUrl", &queue), ("Marker", "two")],
    )
    .await?;
    assert_eq!(lab.settled_status(&stack).await?, "UPDATE_COMPLETE");
    let updated = reports(&lab, &queue, 1).await?;
    assert_eq!(kinds(&updated), ["Update"]);
    assert_eq!(updated[0]["Marker"], "two");
    assert_eq!(
        updated[0]["PhysicalResourceId"], physical,
        "Update carries the resource's id"
    );

    lab.delete_stack(&stack).await?;
    assert_eq!(lab.settled_status(&stack).await?, "DELETE_COMPLETE");
    let deleted = reports(&lab, &queue, 1).await?;
    assert_eq!(kinds(&deleted), ["Delete"]);
    assert_eq!(deleted[0]["PhysicalResourceId"], physical);
    Ok(())
}

#[tokio::test]
async fn a_failed_create_rolls_the_stack_back_and_sends_delete() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let queue = report_queue(&lab).await?;
    let stack = lab
        .create_stack(
            &unique_name("probe"),
            "lab-custom-resource.yaml",
            &[("ReportQueueUrl", &queue), ("FailOn", "Create")],
        )
        .await?;
    assert_eq!(lab.settled_status(&stack).await?, "ROLLBACK_COMPLETE");
    assert_eq!(
        kinds(&reports(&lab, &queue, 2).await?),
        ["Create", "Delete"]
    );
    let reasons = lab.stack_event_reasons(&stack).await?;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("the probe was asked to fail on Create")),
        "{reasons:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_failed_update_rolls_back_with_an_update_to_the_previous_properties() -> anyhow::Result<()>
{
    let lab = Lab::connect().await?;
    let queue = report_queue(&lab).await?;
    let stack = lab
        .create_stack(
            &unique_name("probe"),
            "lab-custom-resource.yaml",
            &[("ReportQueueUrl", &queue)],
        )
        .await?;
    assert_eq!(lab.settled_status(&stack).await?, "CREATE_COMPLETE");
    lab.update_stack(
        &stack,
        "lab-custom-resource.yaml",
        &[("ReportQueueUrl", &queue), ("FailOn", "Update")],
    )
    .await?;
    assert_eq!(
        lab.settled_status(&stack).await?,
        "UPDATE_ROLLBACK_COMPLETE"
    );
    // The failed Update, then the rollback's Update back to the previous properties.
    let seen = reports(&lab, &queue, 3).await?;
    assert_eq!(kinds(&seen), ["Create", "Update", "Update"]);
    let reasons = lab.stack_event_reasons(&stack).await?;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("the probe was asked to fail on Update")),
        "{reasons:?}"
    );
    lab.delete_stack(&stack).await?;
    assert_eq!(lab.settled_status(&stack).await?, "DELETE_COMPLETE");
    Ok(())
}

#[tokio::test]
async fn a_failed_delete_fails_the_stack() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let queue = report_queue(&lab).await?;
    let stack = lab
        .create_stack(
            &unique_name("probe"),
            "lab-custom-resource.yaml",
            &[("ReportQueueUrl", &queue), ("FailOn", "Delete")],
        )
        .await?;
    assert_eq!(lab.settled_status(&stack).await?, "CREATE_COMPLETE");
    lab.delete_stack(&stack).await?;
    assert_eq!(lab.settled_status(&stack).await?, "DELETE_FAILED");
    assert_eq!(
        kinds(&reports(&lab, &queue, 2).await?),
        ["Create", "Delete"]
    );
    Ok(())
}
