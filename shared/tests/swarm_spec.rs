//! The `Custom::Swarm` resource's properties, as CloudFormation sends them (strings).

use serde_json::json;
use swarmhook::resource::{SpecError, SwarmSpec};

#[test]
fn reads_the_properties_cloudformation_sends() {
    let spec = SwarmSpec::from_properties(&json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:swarm",
        "ManagerCount": "3",
        "WorkerCount": "0",
        "RotateTokens": "2026-11-27",
    }))
    .expect("valid");
    assert_eq!(
        spec,
        SwarmSpec {
            manager_count: 3,
            worker_count: 0,
            rotate_tokens: "2026-11-27".into()
        }
    );
}

#[test]
fn only_odd_manager_counts_up_to_seven() {
    for good in ["1", "3", "5", "7"] {
        let props = json!({"ManagerCount": good, "WorkerCount": "1"});
        assert!(SwarmSpec::from_properties(&props).is_ok(), "{good}");
    }
    for bad in ["0", "2", "4", "9", "-1", "three", ""] {
        let props = json!({"ManagerCount": bad, "WorkerCount": "1"});
        let err = SwarmSpec::from_properties(&props).expect_err(bad);
        assert!(
            matches!(
                err,
                SpecError::Invalid {
                    name: "ManagerCount",
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
}

#[test]
fn malformed_properties_say_what_is_wrong() {
    let cases = [
        (json!("ManagerCount=3"), "must be an object"),
        (json!({"WorkerCount": "1"}), "ManagerCount is required"),
        (json!({"ManagerCount": "3"}), "WorkerCount is required"),
        (
            json!({"ManagerCount": "3", "WorkerCount": "5000"}),
            "at most 1000",
        ),
        (
            json!({"ManagerCount": "3", "WorkerCount": "1", "RotateTokens": ["a"]}),
            "must be a string",
        ),
    ];
    for (props, want) in cases {
        let err = SwarmSpec::from_properties(&props).expect_err(want);
        assert!(err.to_string().contains(want), "{err} should say {want}");
    }
}

#[test]
fn a_changed_rotation_value_asks_for_new_tokens() {
    let old = SwarmSpec::from_properties(&json!({"ManagerCount": "3", "WorkerCount": "1"}))
        .expect("valid");
    let same = old.clone();
    let rotated = SwarmSpec {
        rotate_tokens: "1".into(),
        ..old.clone()
    };
    assert!(!same.rotates_tokens_since(&old));
    assert!(rotated.rotates_tokens_since(&old));
}
