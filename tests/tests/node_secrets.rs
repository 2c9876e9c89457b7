//! What a node can reach of the swarm's secrets with its own identity, and what any
//! process on a node can see of them. The lab evaluates the instance roles' policies for
//! the nodes' parameter calls as IAM does (the template's roles, AWS's managed policy
//! among them), and traces every process Run Command starts with its arguments.

use std::collections::BTreeSet;

use serde_json::Value;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::Lab;

/// `aws ssm …` on a node, with the node's own credentials: (exit code, stdout, stderr).
async fn on_node(lab: &Lab, instance: &str, args: &str) -> anyhow::Result<(i32, String, String)> {
    let out = lab.run(instance, &format!("aws ssm {args}")).await?;
    Ok((out.response_code, out.stdout, out.stderr))
}

/// The lab's decision on the last `action` a node made on `resource`.
fn decision<'a>(
    decisions: &'a [Value],
    instance: &str,
    action: &str,
    resource: &str,
) -> Option<&'a Value> {
    decisions.iter().rev().find(|d| {
        d["instance"] == instance
            && d["action"] == action
            && d["resource"]
                .as_str()
                .is_some_and(|r| r.ends_with(resource))
    })
}

#[tokio::test]
async fn a_worker_is_refused_the_manager_token_and_no_token_is_ever_a_process_argument(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.91.0/24", "10.200.92.0/24", 1, 1);
    lab.trace_execs(true).await?;
    let launched = Product::launch(&lab, &spec).await;
    let execs = lab.traced_execs().await;
    lab.trace_execs(false).await?;
    let swarm = launched?;
    let execs = execs?;
    let manager = swarm.a_manager(&lab).await?;
    let worker = swarm
        .ids(&lab, &swarm.workers)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no worker"))?;
    let tokens = swarm.tokens(&lab).await?;
    let (worker_token, manager_token) = (&tokens[0], &tokens[1]);

    // Forming the swarm: the manager published both tokens, the worker read its own and
    // joined, and no process on either node was given a token as an argument.
    let ours: BTreeSet<&str> = [manager.as_str(), worker.as_str()].into();
    let mine: Vec<&(String, Vec<String>)> = execs
        .iter()
        .filter(|(i, _)| ours.contains(i.as_str()))
        .collect();
    for (instance, argv) in &mine {
        for arg in argv {
            assert!(
                !arg.contains(worker_token.as_str())
                    && !arg.contains(manager_token.as_str())
                    && !arg.contains("SWMTKN-1-"),
                "a token in the arguments of a process on {instance}: {:?}",
                argv.first()
            );
        }
    }
    // The trace saw the steps that handle the tokens (it is not silently empty).
    let ran = |instance: &str, program: &str, word: Option<&str>| {
        mine.iter().any(|(i, argv)| {
            i == instance
                && argv.first().is_some_and(|p| p.ends_with(program))
                && word.is_none_or(|w| argv.iter().any(|a| a == w))
        })
    };
    let programs: BTreeSet<&str> = mine
        .iter()
        .filter_map(|(_, argv)| argv.first().map(String::as_str))
        .collect();
    assert!(
        ran(&manager, "aws", Some("put-parameter")),
        "no publish traced among {programs:?}"
    );
    assert!(
        ran(&worker, "aws", Some("get-parameter")),
        "no token read traced among {programs:?}"
    );
    assert!(
        ran(&worker, "curl", None),
        "no join traced among {programs:?}"
    );

    // The worker's identity reads the worker token and nothing of the manager's: not by
    // name, not with others, not by path, and not another swarm's either.
    let prefix = format!("/swarmhook/{}/join-token", swarm.stack);
    let read = |name: &str| {
        format!(
            "get-parameter --name '{name}' --with-decryption --query Parameter.Value --output text"
        )
    };
    let (code, out, _) = on_node(&lab, &worker, &read(&format!("{prefix}/worker"))).await?;
    assert_eq!(
        (code, out.trim()),
        (0, worker_token.as_str()),
        "the worker reads its token"
    );
    let refusals = [
        read(&format!("{prefix}/manager")),
        format!("get-parameters --names '{prefix}/worker' '{prefix}/manager' --with-decryption"),
        "get-parameters-by-path --path /swarmhook --recursive --with-decryption".to_owned(),
        format!("get-parameter-history --name '{prefix}/manager' --with-decryption"),
        read("/swarmhook/another-swarm/join-token/manager"),
    ];
    for args in &refusals {
        let (code, out, err) = on_node(&lab, &worker, args).await?;
        assert_ne!(code, 0, "the worker was allowed `aws ssm {args}`");
        assert!(
            err.contains("AccessDeniedException"),
            "`{args}` failed otherwise: {err}"
        );
        assert!(
            !out.contains(manager_token.as_str()),
            "`{args}` printed the manager token"
        );
    }
    // Refused by the template's own denial, not for want of an allow: the managed policy
    // the role carries allows every parameter read.
    let decisions = lab.authorizations().await?;
    let denied = decision(
        &decisions,
        &worker,
        "ssm:GetParameter",
        &format!("{prefix}/manager"),
    )
    .ok_or_else(|| anyhow::anyhow!("no decision on the worker's read: {decisions:?}"))?;
    assert_eq!(denied["decision"], "explicit-deny", "{denied}");
    assert_eq!(denied["statement"], "NoManagerTokens", "{denied}");
    let other = decision(
        &decisions,
        &worker,
        "ssm:GetParameter",
        "another-swarm/join-token/manager",
    )
    .ok_or_else(|| anyhow::anyhow!("no decision on another swarm's token: {decisions:?}"))?;
    assert_eq!(other["decision"], "explicit-deny", "{other}");

    // The manager's identity reads the manager token.
    let (code, out, err) = on_node(&lab, &manager, &read(&format!("{prefix}/manager"))).await?;
    assert_eq!(
        (code, out.trim()),
        (0, manager_token.as_str()),
        "the manager reads its token: {err}"
    );
    let allowed = decision(
        &lab.authorizations().await?,
        &manager,
        "ssm:GetParameter",
        &format!("{prefix}/manager"),
    )
    .cloned()
    .ok_or_else(|| anyhow::anyhow!("no decision on the manager's read"))?;
    assert_eq!(allowed["decision"], "allow", "{allowed}");

    lab.delete_stack_completely(&swarm.stack_id).await?;
    Ok(())
}
