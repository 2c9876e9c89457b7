//! The shared crate's engine scripts, run for real on lab nodes through SSM, read by its
//! parsers: init is idempotent, the tokens go from a manager to their parameters without
//! leaving the node, joins read their token on the node and try every manager, and no
//! output carries a token.

use swarmhook::cluster::{EngineState, Role};
use swarmhook::engine;
use swarmhook_lab_tests::fleet::{Fleet, FleetSpec};
use swarmhook_lab_tests::{unique_name, wait, Lab};

#[tokio::test]
async fn scripts_form_a_swarm_on_real_nodes_without_a_token_in_sight() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let fleet = Fleet::launch(&lab, FleetSpec::new("10.200.23.0/24", 3)).await?;
    let ids = fleet.admit_all(3).await?;
    let (first, second, worker) = (&ids[0], &ids[1], &ids[2]);
    let first_ip = fleet.private_ip(first).await?;
    let worker_ip = fleet.private_ip(worker).await?;
    let prefix = format!("/swarmhook/{}", unique_name("cluster"));
    let worker_param = format!("{prefix}/join-token/worker");
    let manager_param = format!("{prefix}/join-token/manager");
    let mut outputs = Vec::new();

    let probe = lab.run(first, &engine::probe_engine()).await?;
    assert_eq!(
        engine::parse_engine_state(probe.response_code, &probe.stdout)?,
        EngineState::Inactive
    );

    // A changing script says what it did first and reports the engine after it last.
    let first_line = |out: &str| out.lines().next().unwrap_or_default().to_owned();
    let init = engine::init_swarm(&first_ip)?;
    outputs.push(lab.run_ok(first, &init).await?);
    assert_eq!(
        outputs.last().map(|s| first_line(s)),
        Some("initialised".into())
    );
    outputs.push(lab.run_ok(first, &init).await?);
    assert_eq!(
        outputs.last().map(|s| first_line(s)),
        Some("already-active".into()),
        "init is idempotent"
    );
    let reported = engine::parse_engine_report(outputs.last().map_or("", |s| s.as_str()))?;
    let probe = lab.run(first, &engine::probe_engine()).await?;
    let probed = engine::parse_engine_state(probe.response_code, &probe.stdout)?;
    assert_eq!(
        reported, probed,
        "the init script reports what a probe sees"
    );
    let cluster_id = match probed {
        EngineState::Active {
            cluster_id: Some(c),
            is_manager: true,
            ..
        } => c,
        other => anyhow::bail!("after init: {other:?}"),
    };

    outputs.push(
        lab.run_ok(
            first,
            &engine::publish_tokens(&engine::TokenStore::Ssm, &worker_param, &manager_param)?,
        )
        .await?,
    );
    let stored = lab
        .ssm()
        .get_parameter()
        .name(&worker_param)
        .with_decryption(true)
        .send()
        .await?;
    let param = stored
        .parameter()
        .ok_or_else(|| anyhow::anyhow!("no parameter"))?;
    assert_eq!(
        param.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    assert!(
        param.value().unwrap_or_default().starts_with("SWMTKN-1-"),
        "a worker token was published"
    );

    // The worker joins; a second run finds it already active.
    let join_worker = engine::join_swarm(
        &engine::TokenStore::Ssm,
        Role::Worker,
        &worker_param,
        std::slice::from_ref(&first_ip),
    )?;
    outputs.push(lab.run_ok(worker, &join_worker).await?);
    assert!(
        matches!(
            engine::parse_engine_report(outputs.last().map_or("", |s| s.as_str()))?,
            EngineState::Active {
                is_manager: false,
                ..
            }
        ),
        "the join reports the worker in the swarm"
    );
    outputs.push(lab.run_ok(worker, &join_worker).await?);
    assert_eq!(outputs.last().map(|s| first_line(s)), Some("active".into()));

    // The manager tries an address where no manager listens first, then the real one.
    let join_manager = engine::join_swarm(
        &engine::TokenStore::Ssm,
        Role::Manager,
        &manager_param,
        &[format!("{worker_ip}:2377"), first_ip.clone()],
    )?;
    let joined = lab.run(second, &join_manager).await?;
    assert_eq!(joined.response_code, 0, "{}", joined.stderr);
    assert!(
        joined.stdout.contains(&format!("joined {first_ip}:2377")),
        "{}",
        joined.stdout
    );
    outputs.push(joined.stdout.clone());
    outputs.push(joined.stderr.clone());

    // Seen from the first manager: two serving managers, and the worker.
    let managers = wait::until(
        "two serving managers",
        std::time::Duration::from_secs(60),
        || async {
            let script = engine::swarm_view(None, false)
                .map_err(|e| swarmhook_lab_tests::LabError::Unexpected(e.to_string()))?;
            let out = lab.run_ok(first, &script).await?;
            let managers = engine::parse_swarm_view(&out, "")
                .map_err(|e| swarmhook_lab_tests::LabError::Unexpected(e.to_string()))?
                .managers;
            let serving = managers.iter().filter(|m| m.is_serving()).count();
            Ok(((serving == 2).then_some(managers), out))
        },
    )
    .await?;
    assert_eq!(managers.len(), 2);
    let host = format!("ip-{}", worker_ip.replace('.', "-"));
    let viewed = lab
        .run(first, &engine::swarm_view(Some(&host), true)?)
        .await?;
    assert_eq!(viewed.response_code, 0, "{}", viewed.stderr);
    let view = engine::parse_swarm_view(&viewed.stdout, &viewed.stderr)?;
    assert_eq!(view.running_tasks, Some(0), "{}", viewed.stdout);
    let member = view
        .node
        .ok_or_else(|| anyhow::anyhow!("the worker is not in the swarm"))?;
    let absent = lab
        .run(first, &engine::swarm_view(Some("ip-10-200-99-99"), false)?)
        .await?;
    assert_eq!(
        engine::parse_swarm_view(&absent.stdout, &absent.stderr)?.node,
        None
    );
    assert_eq!(member.role, Role::Worker);
    assert!(member.is_serving());
    let probe = lab.run(second, &engine::probe_engine()).await?;
    assert!(matches!(
        engine::parse_engine_state(probe.response_code, &probe.stdout)?,
        EngineState::Active { cluster_id: Some(c), .. } if c == cluster_id
    ));

    for out in &outputs {
        assert!(
            !out.contains("SWMTKN-1-"),
            "a token in a script's output: {out}"
        );
    }
    fleet.delete().await?;
    Ok(())
}
