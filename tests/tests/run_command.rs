//! SSM Run Command in the lab really runs on the instance's node.

use aws_sdk_ssm::types::CommandInvocationStatus;
use swarmhook_lab_tests::fleet::{Fleet, FleetSpec};
use swarmhook_lab_tests::Lab;

#[tokio::test]
async fn commands_run_on_the_instances_own_node() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let fleet = Fleet::launch(&lab, FleetSpec::new("10.200.21.0/24", 1)).await?;
    let id = fleet.admit_all(1).await?.remove(0);
    let ip = fleet.private_ip(&id).await?;

    let swarm = lab
        .run_ok(&id, "docker info --format '{{json .Swarm}}'")
        .await?;
    let swarm: serde_json::Value = serde_json::from_str(swarm.trim())?;
    assert_eq!(swarm["LocalNodeState"], "inactive", "{swarm}");

    // The node holds the instance's address and hostname.
    let who = lab
        .run_ok(&id, "hostname; ip -4 -o addr show dev eth0")
        .await?;
    let mut lines = who.lines();
    assert_eq!(
        lines.next(),
        Some(format!("ip-{}", ip.replace('.', "-")).as_str())
    );
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .contains(&format!("inet {ip}/")),
        "{who}"
    );

    // Pending/InProgress while it runs, then the real exit code and streams.
    let slow = lab.run(&id, "sleep 1; echo done").await?;
    assert_eq!(slow.status, CommandInvocationStatus::Success);
    assert!(
        slow.seen.iter().any(|s| matches!(
            s,
            CommandInvocationStatus::Pending | CommandInvocationStatus::InProgress
        )),
        "{:?}",
        slow.seen
    );
    let failing = lab
        .run(&id, "echo to-stdout; echo to-stderr >&2; exit 3")
        .await?;
    assert_eq!(failing.status, CommandInvocationStatus::Failed);
    assert_eq!(failing.response_code, 3);
    assert_eq!(failing.stdout.trim(), "to-stdout");
    assert_eq!(failing.stderr.trim(), "to-stderr");

    // AWS's output cap: the first 24,000 characters of stdout.
    let big = lab
        .run_ok(&id, "head -c 30000 /dev/zero | tr '\\0' a")
        .await?;
    assert_eq!(big.len(), 24_000);
    fleet.delete().await?;
    Ok(())
}

#[tokio::test]
async fn a_swarm_forms_through_run_command_and_a_terminated_node_goes() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let fleet = Fleet::launch(&lab, FleetSpec::new("10.200.22.0/24", 2)).await?;
    let ids = fleet.admit_all(2).await?;
    let (manager, worker) = (&ids[0], &ids[1]);
    let manager_ip = fleet.private_ip(manager).await?;
    let worker_ip = fleet.private_ip(worker).await?;

    lab.run_ok(
        manager,
        &format!("docker swarm init --advertise-addr {manager_ip}"),
    )
    .await?;
    // A lab test may pass the token in a command's text; the product never does.
    let token = lab
        .run_ok(manager, "docker swarm join-token -q worker")
        .await?;
    lab.run_ok(
        worker,
        &format!(
            "docker swarm join --token {} {manager_ip}:2377",
            token.trim()
        ),
    )
    .await?;

    let listing = lab
        .run_ok(manager, "docker node ls --format '{{json .}}'")
        .await?;
    let mut hosts: Vec<String> = listing
        .lines()
        .map(serde_json::from_str::<serde_json::Value>)
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .filter_map(|n| n["Hostname"].as_str().map(str::to_owned))
        .collect();
    hosts.sort();
    let mut want = vec![
        format!("ip-{}", manager_ip.replace('.', "-")),
        format!("ip-{}", worker_ip.replace('.', "-")),
    ];
    want.sort();
    assert_eq!(hosts, want, "{listing}");

    // Terminated from EC2: the node halts and its namespace goes; the swarm sees it Down.
    lab.ec2()
        .terminate_instances()
        .instance_ids(worker)
        .send()
        .await?;
    lab.wait_node_gone(worker).await?;
    let worker_host = format!("ip-{}", worker_ip.replace('.', "-"));
    swarmhook_lab_tests::wait::until(
        "the swarm to see the terminated worker Down",
        std::time::Duration::from_secs(90),
        || async {
            let out = lab
                .run_ok(
                    manager,
                    "docker node ls --format '{{.Hostname}} {{.Status}}'",
                )
                .await?;
            let down = out.lines().any(|l| l == format!("{worker_host} Down"));
            Ok((down.then_some(()), out))
        },
    )
    .await?;
    fleet.delete().await?;
    Ok(())
}
