//! The product on Azure in the lab: the published template deployed as a user deploys it,
//! 3 managers and 3 workers whose VMs run the product's node agent, and the Function app
//! run from the published package. The swarm forms from the agents' announcements alone,
//! and the deployment succeeds only once it has (its deployment script waits on the
//! `formed` function): all six are Ready the moment it says Succeeded; every announcement delivered again changes nothing (each VM joined once);
//! a leaving notice forged for a running VM changes nothing; the managers' private DNS
//! record lists the managers; no join token appears in any log.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use swarmhook_lab_tests::azure_management::{NETWORK_VERSION, PRIVATE_DNS_VERSION};
use swarmhook_lab_tests::azure_swarm::AzureSwarm;
use swarmhook_lab_tests::wait::until;

#[tokio::test]
async fn three_and_three_form_one_swarm_from_their_announcements() -> anyhow::Result<()> {
    let swarm = AzureSwarm::deploy("10.200.210.0/24", 3, 3, 5).await?;
    // The deployment has succeeded: its script saw the swarm formed, and says so.
    let formed = &swarm.outputs["swarm"]["value"];
    println!("deployment succeeded; its script's answer: {formed}");
    anyhow::ensure!(
        formed["formed"] == true && formed["managers"] == 3 && formed["workers"] == 3,
        "the deployment's swarm output: {formed}"
    );
    let managers = swarm.vms("managerSet").await?;
    let workers = swarm.vms("workerSet").await?;
    anyhow::ensure!(
        managers.len() == 3 && workers.len() == 3,
        "{managers:?} {workers:?}"
    );

    // One swarm of six Ready nodes, three of them managers, as a manager sees it.
    let nodes = swarm.swarm_nodes(&managers[0]).await?;
    anyhow::ensure!(nodes.len() == 6, "six nodes: {nodes:?}");
    anyhow::ensure!(
        nodes.iter().all(|(_, status, _)| status == "Ready"),
        "{nodes:?}"
    );
    let with_manager_status = nodes.iter().filter(|(_, _, m)| !m.is_empty()).count();
    anyhow::ensure!(with_manager_status == 3, "three managers: {nodes:?}");
    let record = swarm.record().await?;
    let recorded: BTreeSet<String> = record["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["instance_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let all: BTreeSet<String> = managers.iter().chain(&workers).cloned().collect();
    anyhow::ensure!(
        recorded == all,
        "the store records every VM's node: {recorded:?}"
    );

    // Every announcement again: nothing changes, and no VM joins twice.
    let generation = record["generation"].as_u64().unwrap_or_default();
    for (vm, set) in managers
        .iter()
        .map(|m| (m, "managerSet"))
        .chain(workers.iter().map(|w| (w, "workerSet")))
    {
        let text = serde_json::json!({"vm": vm, "scale_set": swarm.output(set)}).to_string();
        swarm
            .put_message(&swarm.output("readyQueue"), &text)
            .await?;
    }
    // A leaving notice forged for a running worker: the VM's own Scheduled Events say
    // nothing of it, so nothing is done.
    let forged = serde_json::json!({
        "vm": workers[0], "scale_set": swarm.output("workerSet"),
        "event_id": "00000000-0000-0000-0000-000000000000", "event_type": "Terminate",
    });
    swarm
        .put_message(&swarm.output("leavingQueue"), &forged.to_string())
        .await?;
    until(
        "the node queues drained",
        Duration::from_secs(180),
        || async {
            let depth = swarm.queue_depth(&swarm.output("readyQueue")).await?
                + swarm.queue_depth(&swarm.output("leavingQueue")).await?;
            Ok(((depth == 0).then_some(()), format!("{depth} messages left")))
        },
    )
    .await?;
    let after = swarm.swarm_nodes(&managers[0]).await?;
    anyhow::ensure!(
        after.len() == 6 && after.iter().all(|(_, s, _)| s == "Ready"),
        "{after:?}"
    );
    let record = swarm.record().await?;
    let nodes_again = record["nodes"].as_array().map(Vec::len).unwrap_or_default();
    anyhow::ensure!(nodes_again == 6, "still six recorded nodes: {record}");
    let departures = record["departures"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    anyhow::ensure!(
        departures == 0,
        "the forged notice started no departure: {record}"
    );
    println!(
        "generation {generation} before the repeats, {} after",
        record["generation"].as_u64().unwrap_or_default()
    );
    anyhow::ensure!(swarm.vms("workerSet").await?.contains(&workers[0]));

    // The managers' record lists each manager's address.
    let path = format!(
        "{}/providers/Microsoft.Network/privateDnsZones/{}/A/managers?api-version={PRIVATE_DNS_VERSION}",
        swarm.azure.group_path(&swarm.group),
        swarm.output("dnsZone")
    );
    let dns = until(
        "the managers' DNS record",
        Duration::from_secs(60),
        || async {
            let a = swarm
                .azure
                .arm(Some(&swarm.token), Method::GET, &path, None, &[])
                .await?;
            let n = a.body["properties"]["aRecords"]
                .as_array()
                .map(Vec::len)
                .unwrap_or_default();
            Ok((
                (n == 3).then(|| a.body.clone()),
                format!("{} {}", a.status, a.body),
            ))
        },
    )
    .await?;
    println!("managers' record: {}", dns["properties"]["aRecords"]);

    // A published port gets its rule and probe on the public load balancer (on the next
    // reconcile); a UDP port is probed on the swarm's gossip port; the service gone, so
    // are they.
    swarm
        .on_vm(
            &managers[0],
            "docker service create -d --no-resolve-image --name web -p 8080:80 -p 5353:53/udp swarmhook/none >/dev/null",
        )
        .await?;
    let balancer = |want_rules: usize| {
        let swarm = &swarm;
        async move {
            let path = format!(
                "{}/providers/Microsoft.Network/loadBalancers/{}-lb?api-version={NETWORK_VERSION}",
                swarm.azure.group_path(&swarm.group),
                swarm.cluster
            );
            let lb = swarm
                .azure
                .arm(Some(&swarm.token), Method::GET, &path, None, &[])
                .await?;
            let ours = |c: &str| -> Vec<Value> {
                lb.body["properties"][c]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| {
                        r["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("swarmhook-"))
                    })
                    .cloned()
                    .collect()
            };
            let (rules, probes) = (ours("loadBalancingRules"), ours("probes"));
            let shown = format!("rules {rules:?} probes {probes:?}");
            Ok((
                (rules.len() == want_rules).then_some((rules, probes)),
                shown,
            ))
        }
    };
    swarm.azure.fire_timers(&swarm.app).await?;
    let (rules, probes) = until(
        "a rule and a probe per published port",
        Duration::from_secs(90),
        || balancer(2),
    )
    .await?;
    let rule = |port: u64| {
        rules
            .iter()
            .find(|r| r["properties"]["frontendPort"] == port)
            .cloned()
            .unwrap_or_default()
    };
    let probe_port = |rule: &Value| {
        let id = rule["properties"]["probe"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        probes
            .iter()
            .find(|p| p["id"].as_str() == Some(id.as_str()))
            .map(|p| p["properties"]["port"].clone())
    };
    let (tcp, udp) = (rule(8080), rule(5353));
    anyhow::ensure!(
        tcp["properties"]["protocol"] == "Tcp" && tcp["properties"]["backendPort"] == 8080,
        "{rules:?}"
    );
    anyhow::ensure!(udp["properties"]["protocol"] == "Udp", "{rules:?}");
    anyhow::ensure!(
        probe_port(&tcp) == Some(Value::from(8080)),
        "the TCP port probed itself: {probes:?}"
    );
    anyhow::ensure!(
        probe_port(&udp) == Some(Value::from(7946)),
        "the UDP port probed on 7946: {probes:?}"
    );
    println!(
        "published 8080/tcp and 5353/udp: rules {} and {}",
        tcp["name"], udp["name"]
    );
    swarm
        .on_vm(&managers[0], "docker service rm web >/dev/null")
        .await?;
    swarm.azure.fire_timers(&swarm.app).await?;
    until(
        "the rules gone with the service",
        Duration::from_secs(90),
        || async {
            let (found, shown) = balancer(0).await?;
            Ok((found.filter(|(_, probes)| probes.is_empty()), shown))
        },
    )
    .await?;

    // No join token in the deployment's outputs, or in what the app or any agent wrote.
    anyhow::ensure!(
        !swarm.deployment.to_string().contains("SWMTKN-"),
        "a join token in the deployment"
    );
    let logs = swarm.logs();
    anyhow::ensure!(!logs.is_empty(), "the app and the agents wrote logs");
    anyhow::ensure!(!logs.contains("SWMTKN-"), "a join token in the logs");
    Ok(())
}

#[tokio::test]
async fn five_managers_announcing_at_once_make_one_cluster() -> anyhow::Result<()> {
    let swarm = AzureSwarm::deploy("10.200.212.0/24", 5, 0, 5).await?;
    let managers = swarm.vms("managerSet").await?;
    anyhow::ensure!(managers.len() == 5, "{managers:?}");
    let mut clusters = BTreeSet::new();
    for m in &managers {
        let id = swarm
            .on_vm(m, "docker info --format '{{.Swarm.Cluster.ID}}'")
            .await?;
        clusters.insert(id.trim().to_owned());
    }
    anyhow::ensure!(
        clusters.len() == 1 && !clusters.contains(""),
        "one cluster: {clusters:?}"
    );
    let nodes = swarm.swarm_nodes(&managers[0]).await?;
    anyhow::ensure!(
        nodes.len() == 5 && nodes.iter().all(|(_, s, m)| s == "Ready" && !m.is_empty()),
        "{nodes:?}"
    );
    Ok(())
}
