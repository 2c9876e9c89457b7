//! CloudFormation custom resources in the lab: Create, Update and Delete reach the function
//! named by ServiceToken (the real probe binary), and its answer moves the stack.

use serde_json::Value;
use swarmhook_lab_tests::{unique_name, Lab};

async fn report_queue(lab: &Lab) -> anyhow::Result<String> {
    Ok(lab.create_queue("probe-reports").await?)
}

/// The next `n` requests the probe reported, in order.
async fn reports(lab: &Lab, queue_url: &str, n: usize) -> anyhow::Result<Vec<Value>> {
    Ok(lab.take_messages(queue_url, n).await?)
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
