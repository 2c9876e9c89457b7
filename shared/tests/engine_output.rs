//! The engine parsers read what real dockerd nodes printed (captured in the lab), and the
//! scripts refuse unsafe input and never carry a token.

use swarmhook::cluster::{EngineState, ManagerStatus, NodeStatus, Role};
use swarmhook::engine::{
    init_swarm, join_swarm, parse_engine_state, parse_join_millis, parse_manager_list,
    parse_node_inspect, parse_swarm_view, probe_engine, publish_tokens, rotate_tokens, swarm_view,
    ScriptError, TokenStore,
};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/docker/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn engine_states_from_real_docker_info() {
    assert_eq!(
        parse_engine_state(0, &fixture("info-swarm-inactive.json")).expect("parses"),
        EngineState::Inactive
    );
    match parse_engine_state(0, &fixture("info-swarm-active-manager.json")).expect("parses") {
        EngineState::Active {
            cluster_id,
            is_manager,
            node_id,
        } => {
            assert_eq!(cluster_id.as_deref(), Some("fetmfpb4c6ut5ojfokg7tf653"));
            assert!(is_manager);
            assert!(!node_id.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match parse_engine_state(0, &fixture("info-swarm-active-worker.json")).expect("parses") {
        EngineState::Active {
            cluster_id,
            is_manager,
            ..
        } => {
            assert_eq!(cluster_id, None, "workers do not know the cluster id");
            assert!(!is_manager);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_engine_that_does_not_answer_is_unreachable_and_garbage_is_an_error() {
    // "Cannot connect to the Docker daemon ...": exit code 1.
    assert_eq!(
        parse_engine_state(1, "").expect("parses"),
        EngineState::Unreachable
    );
    assert!(parse_engine_state(0, "not json").is_err());
    assert!(parse_engine_state(0, r#"{"LocalNodeState":"sideways"}"#).is_err());
    assert!(matches!(
        parse_engine_state(0, r#"{"LocalNodeState":"locked"}"#).expect("parses"),
        EngineState::Failed(_)
    ));
}

#[test]
fn members_from_real_node_inspect() {
    let worker = parse_node_inspect(0, &fixture("node-inspect-worker.json"), "")
        .expect("parses")
        .expect("present");
    assert_eq!(worker.role, Role::Worker);
    assert_eq!(worker.status, NodeStatus::Ready);
    assert_eq!(worker.manager_status, None);
    assert!(worker.is_serving());
    let manager = parse_node_inspect(0, &fixture("node-inspect-manager.json"), "")
        .expect("parses")
        .expect("present");
    assert_eq!(manager.role, Role::Manager);
    assert_eq!(manager.hostname, "ip-10-200-1-5");
    assert_eq!(manager.manager_status, Some(ManagerStatus::Reachable));
    assert!(manager.is_serving());
    assert_eq!(
        parse_node_inspect(1, "", &fixture("node-inspect-missing.stderr")).expect("parses"),
        None
    );
    assert!(parse_node_inspect(1, "", &fixture("node-ls-on-worker.stderr")).is_err());
}

#[test]
fn managers_from_real_node_ls() {
    let managers = parse_manager_list(&fixture("node-ls-managers.jsonl")).expect("parses");
    assert_eq!(managers.len(), 2);
    assert_eq!(managers[0].manager_status, Some(ManagerStatus::Leader));
    assert_eq!(managers[1].manager_status, Some(ManagerStatus::Reachable));
    assert!(managers.iter().all(|m| m.is_serving()));
}

#[test]
fn one_swarm_view_gives_the_managers_the_node_and_its_tasks() {
    let managers = fixture("node-ls-managers.jsonl");
    let node = fixture("node-inspect-worker.json");
    let both = format!("{managers}--- node\n{node}--- tasks 3\n");
    let view = parse_swarm_view(&both, "").expect("parses");
    assert_eq!(view.managers.len(), 2);
    assert_eq!(view.node.expect("a member").role, Role::Worker);
    assert_eq!(view.running_tasks, Some(3));

    let missing = format!("{managers}--- node\n--- inspect-failed\n--- tasks 0\n");
    let view = parse_swarm_view(&missing, &fixture("node-inspect-missing.stderr")).expect("parses");
    assert_eq!(
        (view.managers.len(), view.node, view.running_tasks),
        (2, None, None)
    );

    let view = parse_swarm_view(&managers, "").expect("parses");
    assert_eq!((view.managers.len(), view.node), (2, None));

    let script = swarm_view(Some("abc123"), false).expect("safe");
    assert!(script.contains("echo '--- node'"), "{script}");
    assert!(script.contains("|| echo '--- inspect-failed'"), "{script}");
    assert!(
        script.contains("docker node ps 'abc123' --filter desired-state=running -q"),
        "{script}"
    );
    assert!(!swarm_view(None, false).expect("safe").contains("inspect"));
}

#[test]
fn scripts_refuse_what_could_break_out_of_them() {
    for bad in ["a'b", "x; rm -rf /", "$(id)", "", "a b"] {
        assert!(
            matches!(init_swarm(bad), Err(ScriptError::Unsafe { .. })),
            "{bad}"
        );
        assert!(swarm_view(Some(bad), true).is_err(), "{bad}");
        assert!(
            join_swarm(&TokenStore::Ssm, Role::Worker, "/p", &[bad.to_owned()]).is_err(),
            "{bad}"
        );
        assert!(
            publish_tokens(&TokenStore::Ssm, bad, "/ok").is_err(),
            "{bad}"
        );
        assert!(
            rotate_tokens(&TokenStore::Ssm, "/ok", bad).is_err(),
            "{bad}"
        );
    }
    assert_eq!(
        join_swarm(&TokenStore::Ssm, Role::Worker, "/p", &[]),
        Err(ScriptError::NoManagers)
    );
}

#[test]
fn no_script_carries_a_token() {
    let scripts = [
        probe_engine(),
        swarm_view(None, false).expect("safe"),
        swarm_view(Some("ip-10-0-1-4"), true).expect("safe"),
        init_swarm("10.0.1.4").expect("safe"),
        join_swarm(
            &TokenStore::Ssm,
            Role::Manager,
            "/swarmhook/c/join-token/manager",
            &["10.0.1.4".into(), "10.0.1.5:2377".into()],
        )
        .expect("safe"),
        publish_tokens(
            &TokenStore::Ssm,
            "/swarmhook/c/join-token/worker",
            "/swarmhook/c/join-token/manager",
        )
        .expect("safe"),
        rotate_tokens(
            &TokenStore::Ssm,
            "/swarmhook/c/join-token/worker",
            "/swarmhook/c/join-token/manager",
        )
        .expect("safe"),
    ];
    for s in &scripts {
        assert!(!s.contains("SWMTKN-1-"), "a token in {s}");
        assert!(s.starts_with("# swarmhook "), "versioned header: {s}");
    }
    // The join reads the token on the node and redacts it from anything it echoes.
    assert!(scripts[4].contains(
        "aws ssm get-parameter --name '/swarmhook/c/join-token/manager' --with-decryption"
    ));
    assert!(scripts[4].contains("s/SWMTKN-[A-Za-z0-9-]*/<token>/g"));
}

#[test]
fn rotation_replaces_both_tokens_before_publishing_them() {
    let script = rotate_tokens(&TokenStore::Ssm, "/p/worker", "/p/manager").expect("safe");
    let rotate_worker = script.find("--rotate -q worker").expect("rotates worker");
    let rotate_manager = script.find("--rotate -q manager").expect("rotates manager");
    let publish = script.find("put-parameter").expect("publishes");
    assert!(
        rotate_worker < publish && rotate_manager < publish,
        "{script}"
    );
    assert_eq!(script.matches("set -u").count(), 1, "one header: {script}");
}

#[test]
fn the_join_reports_how_long_the_engine_took() {
    assert_eq!(
        parse_join_millis("joined 10.0.1.4:2377 in 812 ms\n"),
        Some(812)
    );
    assert_eq!(parse_join_millis("active\n"), None);
    assert_eq!(parse_join_millis("joined 10.0.1.4:2377 in soon ms"), None);
    let script =
        join_swarm(&TokenStore::Ssm, Role::Worker, "/p", &["10.0.1.4".into()]).expect("safe");
    assert!(script.contains("in $(( ($(date +%s%N) - started) / 1000000 )) ms"));
}

#[test]
fn published_ports_from_real_service_inspect() {
    use swarmhook::cluster::{PublishedPort, Transport};
    use swarmhook::engine::parse_published_ports;
    let ports = parse_published_ports(&fixture("service-ports.jsonl")).expect("parses");
    let port = |port, transport, service: &str, certificate: Option<&str>| PublishedPort {
        port,
        transport,
        service: service.into(),
        certificate: certificate.map(str::to_owned),
    };
    // The host-mode port (9000) and the service with no ports are not the balancer's.
    assert_eq!(
        ports,
        vec![
            port(53, Transport::Tcp, "dns", None),
            port(53, Transport::Udp, "dns", None),
            port(5353, Transport::Udp, "web", None),
            port(
                8080,
                Transport::Tcp,
                "web",
                Some("arn:aws:acm:us-east-1:123456789012:certificate/abc")
            ),
        ]
    );
    assert!(parse_published_ports("not json\n").is_err());
    assert_eq!(parse_published_ports("").expect("no services"), vec![]);
}

#[test]
fn the_census_of_a_real_swarm() {
    let c =
        swarmhook::engine::parse_swarm_census(&fixture("census-one-manager.txt")).expect("parses");
    assert_eq!(
        (
            c.nodes,
            c.managers,
            c.reachable_managers,
            c.workers,
            c.nodes_down
        ),
        (1, 1, 1, 0, 0)
    );
}

#[test]
fn a_changing_script_s_output_reports_the_engine_after_it() {
    use swarmhook::engine::{leave_swarm, parse_engine_report, ENGINE_MARKER};
    let worker = fixture("info-swarm-active-worker.json");
    let joined = format!("joined 10.0.1.4:2377 in 90 ms\n{ENGINE_MARKER}\n{worker}");
    assert!(matches!(
        parse_engine_report(&joined).expect("parses"),
        EngineState::Active {
            is_manager: false,
            ..
        }
    ));
    assert_eq!(parse_join_millis(&joined), Some(90));
    let inactive = format!("{ENGINE_MARKER}\n{}", fixture("info-swarm-inactive.json"));
    assert_eq!(
        parse_engine_report(&inactive).expect("parses"),
        EngineState::Inactive
    );
    // No report: the engine stopped answering.
    assert_eq!(
        parse_engine_report("joining 10.0.1.4:2377: HTTP 000\n").expect("parses"),
        EngineState::Unreachable
    );
    for script in [
        init_swarm("10.0.1.4").expect("safe"),
        join_swarm(&TokenStore::Ssm, Role::Worker, "/p", &["10.0.1.4".into()]).expect("safe"),
        leave_swarm(),
    ] {
        assert!(
            script.contains(&format!("echo '{ENGINE_MARKER}'")),
            "{script}"
        );
        assert!(script.trim_end().ends_with("exit $code"), "{script}");
    }
}

#[test]
fn a_view_until_ready_waits_for_the_named_node_first() {
    let script = swarm_view(Some("n1"), true).expect("safe");
    let wait = script.find("= ready ] && break").expect("waits");
    let list = script.find("docker node ls").expect("lists");
    assert!(wait < list, "{script}");
    assert!(!swarm_view(Some("n1"), false)
        .expect("safe")
        .contains("= ready ]"));
}

#[test]
fn key_vault_scripts_read_and_write_secrets_with_the_vm_identity() {
    let vault = TokenStore::KeyVault {
        vault_uri: "https://kv-swarm.vault.azure.net/".into(),
    };
    let join = join_swarm(
        &vault,
        Role::Worker,
        "worker-join-token",
        &["10.0.1.4".into()],
    )
    .expect("safe");
    assert!(join.contains("http://169.254.169.254/metadata/identity/oauth2/token"));
    assert!(join
        .contains("'https://kv-swarm.vault.azure.net/secrets/worker-join-token?api-version=7.5'"));
    assert!(!join.contains("aws ssm"), "{join}");
    // The bearer token is read from a header file, never passed as an argument.
    assert!(join.contains("-H @\"$auth\""), "{join}");
    assert!(!join.contains("Bearer $"), "{join}");
    let publish = publish_tokens(&vault, "worker-join-token", "manager-join-token").expect("safe");
    assert_eq!(publish.matches("-X PUT").count(), 2, "{publish}");
    assert!(publish.contains("--data-binary @\"$request\""), "{publish}");
    for s in [&join, &publish] {
        assert!(!s.contains("SWMTKN-1-"), "{s}");
    }
    for bad in ["a.b", "a/b", "a'b", ""] {
        assert!(
            join_swarm(&vault, Role::Worker, bad, &["10.0.1.4".into()]).is_err(),
            "{bad}"
        );
        assert!(publish_tokens(&vault, bad, "ok").is_err(), "{bad}");
    }
    for uri in [
        "http://kv/",
        "https://kv",
        "https://k'v/",
        "https://kv/$(id)/",
    ] {
        let store = TokenStore::KeyVault {
            vault_uri: uri.into(),
        };
        assert!(publish_tokens(&store, "w", "m").is_err(), "{uri}");
        assert!(
            join_swarm(&store, Role::Worker, "w", &["10.0.1.4".into()]).is_err(),
            "{uri}"
        );
    }
}
