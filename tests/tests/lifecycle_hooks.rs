//! Auto Scaling lifecycle hooks in the lab behave as AWS documents them: launches wait in
//! Pending:Wait, scale-in victims in Terminating:Wait, each with an EventBridge event on
//! the rule's SQS target, until CompleteLifecycleAction or the heartbeat timeout.

use std::time::Duration;

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::LifecycleState;
use swarmhook_aws::events::{LifecycleTransition, LAUNCH_DETAIL_TYPE, TERMINATE_DETAIL_TYPE};
use swarmhook_lab_tests::fleet::{Fleet, FleetSpec};
use swarmhook_lab_tests::Lab;

#[tokio::test]
async fn launch_hook_holds_instances_until_continue() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let fleet = Fleet::launch(&lab, FleetSpec::new("10.200.11.0/24", 2)).await?;
    let held = fleet.instances().await?;
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(
        held.iter().all(|(_, s)| *s == LifecycleState::PendingWait),
        "{held:?}"
    );

    let events = fleet.events(2).await?;
    let mut from_events: Vec<_> = events
        .iter()
        .map(|e| e.detail.ec2_instance_id.clone())
        .collect();
    let mut from_group: Vec<_> = held.iter().map(|(id, _)| id.clone()).collect();
    from_events.sort();
    from_group.sort();
    assert_eq!(from_events, from_group, "one event per held instance");
    for e in &events {
        assert_eq!(e.source, "aws.autoscaling");
        assert_eq!(e.detail_type, LAUNCH_DETAIL_TYPE);
        assert_eq!(e.detail.auto_scaling_group_name, fleet.group);
        assert_eq!(e.detail.lifecycle_hook_name, "join");
        assert_eq!(
            e.detail.lifecycle_transition,
            LifecycleTransition::Launching
        );
        assert_eq!(e.detail.notification_metadata.as_deref(), Some("lab-test"));
        assert_eq!(e.detail.origin.as_deref(), Some("EC2"));
        assert_eq!(e.detail.destination.as_deref(), Some("AutoScalingGroup"));
        assert!(!e.detail.lifecycle_action_token.is_empty());
    }

    // Nothing completes them by itself.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = fleet.instances().await?;
    assert!(
        still.iter().all(|(_, s)| *s == LifecycleState::PendingWait),
        "{still:?}"
    );

    // One by its token, the other by its instance id.
    let asg = lab.autoscaling();
    asg.complete_lifecycle_action()
        .auto_scaling_group_name(&fleet.group)
        .lifecycle_hook_name("join")
        .lifecycle_action_token(&events[0].detail.lifecycle_action_token)
        .lifecycle_action_result("CONTINUE")
        .send()
        .await?;
    fleet
        .complete("join", &events[1].detail.ec2_instance_id, "CONTINUE")
        .await?;
    for e in &events {
        fleet
            .wait_state(&e.detail.ec2_instance_id, Some(LifecycleState::InService))
            .await?;
    }

    // No action is pending any more: AWS answers ValidationError.
    let again = asg
        .complete_lifecycle_action()
        .auto_scaling_group_name(&fleet.group)
        .lifecycle_hook_name("join")
        .instance_id(&events[0].detail.ec2_instance_id)
        .lifecycle_action_result("CONTINUE")
        .send()
        .await
        .expect_err("a second completion must fail");
    assert_eq!(again.code(), Some("ValidationError"), "{again:?}");
    fleet.delete().await?;
    Ok(())
}

#[tokio::test]
async fn abandon_terminates_the_instance_and_the_group_replaces_it() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let fleet = Fleet::launch(
        &lab,
        FleetSpec {
            default_result: "CONTINUE",
            ..FleetSpec::new("10.200.12.0/24", 1)
        },
    )
    .await?;
    let first = fleet.events(1).await?.remove(0).detail;
    lab.autoscaling()
        .complete_lifecycle_action()
        .auto_scaling_group_name(&fleet.group)
        .lifecycle_hook_name("join")
        .lifecycle_action_token(&first.lifecycle_action_token)
        .lifecycle_action_result("ABANDON")
        .send()
        .await?;
    fleet.wait_state(&first.ec2_instance_id, None).await?;
    lab.wait_node_gone(&first.ec2_instance_id).await?;
    let ec2_state = lab
        .ec2()
        .describe_instances()
        .instance_ids(&first.ec2_instance_id)
        .send()
        .await?
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| i.state().and_then(|s| s.name()).cloned());
    assert_eq!(
        ec2_state,
        Some(aws_sdk_ec2::types::InstanceStateName::Terminated)
    );

    // The replacement launches through the same hook.
    let second = fleet.events(1).await?.remove(0).detail;
    assert_ne!(second.ec2_instance_id, first.ec2_instance_id);
    assert_eq!(
        fleet.state_of(&second.ec2_instance_id).await?,
        Some(LifecycleState::PendingWait)
    );
    assert!(
        lab.node(&second.ec2_instance_id).await?.is_some(),
        "the replacement is a node too"
    );
    fleet.delete().await?;
    Ok(())
}

#[tokio::test]
async fn heartbeat_keeps_an_action_alive_and_the_timeout_applies_the_default_result(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    // 30 s is the shortest heartbeat timeout AWS allows.
    let fleet = Fleet::launch(
        &lab,
        FleetSpec {
            hook_timeout: 30,
            default_result: "CONTINUE",
            ..FleetSpec::new("10.200.13.0/24", 1)
        },
    )
    .await?;
    let detail = fleet.events(1).await?.remove(0).detail;
    let id = detail.ec2_instance_id.clone();
    tokio::time::sleep(Duration::from_secs(20)).await;
    lab.autoscaling()
        .record_lifecycle_action_heartbeat()
        .auto_scaling_group_name(&fleet.group)
        .lifecycle_hook_name("join")
        .lifecycle_action_token(&detail.lifecycle_action_token)
        .send()
        .await?;
    // Past the first timeout, the heartbeat has kept it waiting.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(
        fleet.state_of(&id).await?,
        Some(LifecycleState::PendingWait)
    );
    // Then the timeout runs out and DefaultResult (CONTINUE) applies.
    fleet
        .wait_state(&id, Some(LifecycleState::InService))
        .await?;
    let status = lab.status().await?;
    let completed = status["lifecycle"]["completed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        completed.iter().any(|c| c["instance_id"] == id.as_str()
            && c["by"] == "timeout"
            && c["result"] == "CONTINUE"),
        "{completed:?}"
    );
    fleet.delete().await?;
    Ok(())
}

#[tokio::test]
async fn terminate_hook_holds_scale_in_victims_until_completed() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let fleet = Fleet::launch(&lab, FleetSpec::new("10.200.14.0/24", 2)).await?;
    let ids = fleet.admit_all(2).await?;
    // A hook added through the API, not the template.
    lab.autoscaling()
        .put_lifecycle_hook()
        .auto_scaling_group_name(&fleet.group)
        .lifecycle_hook_name("leave")
        .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
        .heartbeat_timeout(600)
        .default_result("CONTINUE")
        .send()
        .await?;
    fleet.set_desired(1).await?;
    let event = fleet.events(1).await?.remove(0);
    assert_eq!(event.detail_type, TERMINATE_DETAIL_TYPE);
    assert_eq!(
        event.detail.lifecycle_transition,
        LifecycleTransition::Terminating
    );
    assert_eq!(event.detail.lifecycle_hook_name, "leave");
    assert_eq!(event.detail.origin.as_deref(), Some("AutoScalingGroup"));
    assert_eq!(event.detail.destination.as_deref(), Some("EC2"));
    let victim = event.detail.ec2_instance_id.clone();
    assert!(ids.contains(&victim));
    assert_eq!(
        fleet.state_of(&victim).await?,
        Some(LifecycleState::TerminatingWait)
    );
    let node = lab.node(&victim).await?.unwrap_or_default();
    assert_eq!(
        node["state"], "online",
        "the victim's node runs while its hook is pending"
    );

    fleet.complete("leave", &victim, "CONTINUE").await?;
    fleet.wait_state(&victim, None).await?;
    lab.wait_node_gone(&victim).await?;
    let left = fleet.instances().await?;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].1, LifecycleState::InService);
    fleet.delete().await?;
    Ok(())
}

#[tokio::test]
async fn hooks_come_from_the_api_the_group_template_and_their_own_resource() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;

    // CloudFormation: LifecycleHookSpecificationList on the group, and a separate
    // AWS::AutoScaling::LifecycleHook resource.
    let fleet = Fleet::launch(
        &lab,
        FleetSpec {
            terminate_hook_resource: true,
            ..FleetSpec::new("10.200.15.0/24", 1)
        },
    )
    .await?;
    assert_eq!(
        fleet.hooks().await?,
        [
            (
                "join".to_owned(),
                "autoscaling:EC2_INSTANCE_LAUNCHING".to_owned()
            ),
            (
                "leave".to_owned(),
                "autoscaling:EC2_INSTANCE_TERMINATING".to_owned()
            ),
        ]
    );
    let id = fleet.admit_all(1).await?.remove(0);
    // The resource's terminate hook holds the instance when it leaves through the group.
    lab.autoscaling()
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&id)
        .should_decrement_desired_capacity(true)
        .send()
        .await?;
    assert_eq!(
        fleet.state_of(&id).await?,
        Some(LifecycleState::TerminatingWait)
    );
    fleet.complete("leave", &id, "CONTINUE").await?;
    fleet.wait_state(&id, None).await?;

    // The API: CreateAutoScalingGroup with LifecycleHookSpecificationList holds the very
    // first instances.
    let ec2 = lab.ec2();
    let vpc_id = lab.create_vpc("10.200.0.0/16").await?;
    let subnet_id = lab.create_subnet(&vpc_id, "10.200.16.0/24", None).await?;
    let template_name = swarmhook_lab_tests::unique_name("api-template");
    ec2.create_launch_template()
        .launch_template_name(&template_name)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
                .build(),
        )
        .send()
        .await?;
    let group = swarmhook_lab_tests::unique_name("api-group");
    let asg = lab.autoscaling();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .min_size(0)
        .max_size(2)
        .desired_capacity(1)
        .vpc_zone_identifier(&subnet_id)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name(&template_name)
                .build(),
        )
        .lifecycle_hook_specification_list(
            aws_sdk_autoscaling::types::LifecycleHookSpecification::builder()
                .lifecycle_hook_name("join")
                .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
                .heartbeat_timeout(600)
                .default_result("ABANDON")
                .build(),
        )
        .send()
        .await?;
    let described = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await?;
    let states: Vec<_> = described.auto_scaling_groups()[0]
        .instances()
        .iter()
        .filter_map(|i| i.lifecycle_state().cloned())
        .collect();
    assert_eq!(states, [LifecycleState::PendingWait]);
    asg.delete_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .force_delete(true)
        .send()
        .await?;
    fleet.delete().await?;
    Ok(())
}
