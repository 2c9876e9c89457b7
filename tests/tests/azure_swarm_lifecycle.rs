//! The product on Azure in the lab, after formation: a scale-in with terminate notices
//! (each leaving worker drained and removed from the swarm before its agent approves its
//! event, long before the notice runs out, the managers answering throughout), a
//! scale-out (the new VM joins from its announcement), a VM lost without notice (its
//! node removed by the reconcile timer), and a dead engine on a running VM (the VM
//! restarted by reconcile, its node Ready again).

use std::time::{Duration, Instant};

use swarmhook_lab_tests::azure_swarm::AzureSwarm;
use swarmhook_lab_tests::wait::until;

#[tokio::test]
async fn scale_sets_grow_shrink_and_heal_the_swarm() -> anyhow::Result<()> {
    let swarm = AzureSwarm::deploy("10.200.211.0/24", 3, 3, 5).await?;
    let managers = swarm.vms("managerSet").await?;
    let workers = swarm.vms("workerSet").await?;

    // Scale-in 3 → 1: two Terminate notices of five minutes each.
    let began = Instant::now();
    swarm.scale("workerSet", 1).await?;
    let left = until(
        "two workers gone from the scale set",
        Duration::from_secs(240),
        || async {
            // The managers answer throughout (quorum kept).
            let nodes = swarm.swarm_nodes(&managers[0]).await?;
            anyhow_free(nodes.len() >= 4, "the swarm answers with its managers")?;
            let now = swarm.vms("workerSet").await?;
            Ok((
                (now.len() == 1).then(|| now.clone()),
                format!("{} workers: {now:?}; {} nodes", now.len(), nodes.len()),
            ))
        },
    )
    .await?;
    let took = began.elapsed();
    // Well within the five-minute notice: each VM went because its agent approved its
    // event, which it does only once the swarm has released the node.
    anyhow::ensure!(took < Duration::from_secs(240), "scale-in took {took:?}");
    let nodes = swarm.swarm_nodes(&managers[0]).await?;
    anyhow::ensure!(
        nodes.len() == 4 && nodes.iter().all(|(_, s, _)| s == "Ready"),
        "{nodes:?}"
    );
    let lab_log =
        std::fs::read_to_string(std::path::Path::new(&swarm.lab.info.run_dir).join("lab.log"))?;
    for gone in workers.iter().filter(|w| !left.contains(w)) {
        anyhow::ensure!(
            lab_log.contains(&format!("VM {gone} gone: approved")),
            "{gone} went on its approval, not on NotBefore"
        );
    }
    println!("scale-in of 2 workers: {:.1} s", took.as_secs_f64());

    // Scale-out 1 → 2: the new VM joins from its announcement.
    swarm.scale("workerSet", 2).await?;
    until("a fifth Ready node", Duration::from_secs(180), || async {
        let nodes = swarm.swarm_nodes(&managers[0]).await?;
        let ready = nodes.iter().filter(|(_, s, _)| s == "Ready").count();
        Ok(((ready == 5).then_some(()), format!("{nodes:?}")))
    })
    .await?;

    // A worker lost without notice: the reconcile timer removes its node.
    let workers = swarm.vms("workerSet").await?;
    let lost = workers[0].clone();
    swarm.azure.lose_vm(&swarm.vm_id(&lost)).await?;
    until(
        "the lost worker's node removed",
        Duration::from_secs(180),
        || async {
            swarm.azure.fire_timers(&swarm.app).await?;
            let nodes = swarm.swarm_nodes(&managers[0]).await?;
            Ok(((nodes.len() == 4).then_some(()), format!("{nodes:?}")))
        },
    )
    .await?;

    // A dead engine on a running worker: reconcile restarts the VM; its node is Ready again.
    let sick = workers[1].clone();
    swarm.lab.stop_engine(&sick).await?;
    until(
        "the stopped engine's node Down",
        Duration::from_secs(120),
        || async {
            let nodes = swarm.swarm_nodes(&managers[0]).await?;
            let down = nodes.iter().filter(|(_, s, _)| s == "Down").count();
            Ok(((down == 1).then_some(()), format!("{nodes:?}")))
        },
    )
    .await?;
    until(
        "the stopped engine's node Ready again",
        Duration::from_secs(240),
        || async {
            swarm.azure.fire_timers(&swarm.app).await?;
            let nodes = swarm.swarm_nodes(&managers[0]).await?;
            let ready = nodes.iter().filter(|(_, s, _)| s == "Ready").count();
            let restarted = swarm.logs().contains("asked for the VM to be restarted");
            Ok((
                (nodes.len() == 4 && ready == 4 && restarted).then_some(()),
                format!("restarted: {restarted}; {nodes:?}"),
            ))
        },
    )
    .await?;
    let handler_log = swarm.logs();
    anyhow::ensure!(
        handler_log.contains("asked for the VM to be restarted"),
        "repaired by a restart"
    );
    anyhow::ensure!(!handler_log.contains("SWMTKN-"), "a join token in the logs");
    Ok(())
}

fn anyhow_free(ok: bool, what: &str) -> Result<(), swarmhook_lab_tests::LabError> {
    if ok {
        Ok(())
    } else {
        Err(swarmhook_lab_tests::LabError::Unexpected(format!(
            "not so: {what}"
        )))
    }
}
