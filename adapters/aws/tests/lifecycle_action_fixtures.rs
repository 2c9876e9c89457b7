//! Lifecycle action events in the shape AWS documents parse, and round-trip.

use swarmhook_aws::events::{
    LifecycleActionEvent, LifecycleTransition, LAUNCH_DETAIL_TYPE, TERMINATE_DETAIL_TYPE,
};

fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn launch_event_parses_with_its_detail() {
    let event: LifecycleActionEvent =
        serde_json::from_value(fixture("eventbridge-lifecycle-launch.json")).expect("parses");
    assert_eq!(event.detail_type, LAUNCH_DETAIL_TYPE);
    assert_eq!(event.source, "aws.autoscaling");
    let d = &event.detail;
    assert_eq!(d.ec2_instance_id, "i-1234567890abcdef0");
    assert_eq!(d.auto_scaling_group_name, "workers");
    assert_eq!(d.lifecycle_hook_name, "join-swarm");
    assert_eq!(d.lifecycle_transition, LifecycleTransition::Launching);
    assert_eq!(d.notification_metadata.as_deref(), Some("role=worker"));
    assert!(d.enters_the_group());
}

#[test]
fn terminate_event_from_a_warm_pool_does_not_enter_the_group() {
    let event: LifecycleActionEvent =
        serde_json::from_value(fixture("eventbridge-lifecycle-terminate-warmpool.json"))
            .expect("parses");
    assert_eq!(event.detail_type, TERMINATE_DETAIL_TYPE);
    assert_eq!(
        event.detail.lifecycle_transition,
        LifecycleTransition::Terminating
    );
    assert_eq!(event.detail.origin.as_deref(), Some("WarmPool"));
    assert!(!event.detail.enters_the_group());
}

#[test]
fn events_round_trip() {
    for name in [
        "eventbridge-lifecycle-launch.json",
        "eventbridge-lifecycle-terminate-warmpool.json",
    ] {
        let original = fixture(name);
        let event: LifecycleActionEvent = serde_json::from_value(original.clone()).expect(name);
        let again = serde_json::to_value(&event).expect("serialises");
        assert_eq!(again["detail"], original["detail"], "{name}");
        assert_eq!(again["detail-type"], original["detail-type"], "{name}");
    }
}

#[test]
fn an_unknown_transition_is_rejected() {
    let mut event = fixture("eventbridge-lifecycle-launch.json");
    event["detail"]["LifecycleTransition"] = "autoscaling:TEST_NOTIFICATION".into();
    assert!(serde_json::from_value::<LifecycleActionEvent>(event).is_err());
}

#[test]
fn test_notifications_are_told_apart_from_malformed_messages() {
    use swarmhook::events::Event;
    use swarmhook_aws::events::parse_queued;
    let hook_target = serde_json::json!({
        "AccountId": "123456789012",
        "RequestId": "4e7e4d2f-0000-0000-0000-000000000000",
        "AutoScalingGroupARN": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/s-workers",
        "AutoScalingGroupName": "s-workers",
        "Service": "AWS Auto Scaling",
        "Event": "autoscaling:TEST_NOTIFICATION",
        "Time": "2026-11-27T20:00:00.000Z"
    });
    assert!(matches!(
        parse_queued(&hook_target.to_string()),
        Event::Test
    ));
    let mut bridged = fixture("eventbridge-lifecycle-launch.json");
    bridged["detail"]["LifecycleTransition"] = "autoscaling:TEST_NOTIFICATION".into();
    assert!(matches!(parse_queued(&bridged.to_string()), Event::Test));
    let launch = fixture("eventbridge-lifecycle-launch.json");
    assert!(matches!(
        parse_queued(&launch.to_string()),
        Event::Lifecycle(_)
    ));
    for bad in ["{", "[]", r#"{"detail": {}}"#] {
        assert!(matches!(parse_queued(bad), Event::Malformed(_)), "{bad}");
    }
}

#[test]
fn a_schedule_tick_or_a_request_asks_for_a_reconcile() {
    use swarmhook::events::{Event, ReconcileTrigger};
    use swarmhook_aws::events::{parse_queued, RECONCILE_REQUEST};
    let tick = fixture("eventbridge-scheduled.json");
    assert!(matches!(
        parse_queued(&tick.to_string()),
        Event::Reconcile(ReconcileTrigger::Schedule)
    ));
    assert!(matches!(
        parse_queued(RECONCILE_REQUEST),
        Event::Reconcile(ReconcileTrigger::AfterChange)
    ));
    let mut forged: serde_json::Value = serde_json::from_str(RECONCILE_REQUEST).unwrap();
    forged["detail-type"] = "Something Else".into();
    assert!(matches!(
        parse_queued(&forged.to_string()),
        Event::Malformed(_)
    ));
    let mut other = tick.clone();
    other["source"] = "aws.ec2".into();
    assert!(matches!(
        parse_queued(&other.to_string()),
        Event::Malformed(_)
    ));
}
