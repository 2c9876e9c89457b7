//! A stack delete never waits on the swarm. The lab deletes a stack as CloudFormation
//! does: each group first goes to 0 (its instances leave through their terminate hooks),
//! and the resources the groups depend on go once they are empty. The stack here has the
//! longest name CloudFormation accepts, which no name the template builds may outgrow.

use std::time::Instant;

use aws_sdk_ec2::types::InstanceStateName;
use swarmhook_lab_tests::product::{terminations, Product, ProductSpec};
use swarmhook_lab_tests::{unique_name, Lab};

#[tokio::test]
async fn a_formed_swarm_with_the_longest_stack_name_deletes_through_its_hooks_leaving_nothing(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let mut spec = ProductSpec::new("10.200.93.0/24", "10.200.94.0/24", 3, 3);
    let name = unique_name("long");
    spec.stack = format!("{name}{}", "x".repeat(128 - name.len()));
    assert_eq!(spec.stack.len(), 128);
    let swarm = Product::launch(&lab, &spec).await?;
    let instances = swarm.in_service(&lab, 6).await?;
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let record = outputs
        .get("ManagersDnsName")
        .ok_or_else(|| anyhow::anyhow!("no ManagersDnsName: {outputs:?}"))?;
    assert!(
        record.split('.').all(|label| label.len() <= 63),
        "{record} has a label longer than DNS allows"
    );

    let started = Instant::now();
    lab.delete_stack_completely(&swarm.stack_id).await?;
    eprintln!(
        "{} managers + {} workers deleted in {:.1} s",
        spec.managers,
        spec.workers,
        started.elapsed().as_secs_f64()
    );

    // Every instance left through its terminate hook, completed once with CONTINUE by
    // the function (not by the hook's timeout), and its machine is gone.
    let completed = terminations(&lab).await?;
    for id in &instances {
        let mine: Vec<_> = completed
            .iter()
            .filter(|c| c["instance_id"] == id.as_str())
            .collect();
        assert!(
            mine.len() == 1 && mine[0]["result"] == "CONTINUE" && mine[0]["by"] == "token",
            "{id}'s terminate action: {mine:?}"
        );
        lab.wait_node_gone(id).await?;
    }
    let described = lab
        .ec2()
        .describe_instances()
        .set_instance_ids(Some(instances.clone()))
        .send()
        .await?;
    for instance in described.reservations().iter().flat_map(|r| r.instances()) {
        assert_eq!(
            instance.state().and_then(|s| s.name()),
            Some(&InstanceStateName::Terminated),
            "{:?}",
            instance.instance_id()
        );
    }
    let logs = swarm.function_logs(&lab)?;
    assert!(
        logs.contains("leaves without waiting for the swarm"),
        "no termination was told the swarm is going"
    );

    // Nothing of the swarm is left: no group, no join token.
    let groups = lab
        .autoscaling()
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&swarm.managers)
        .auto_scaling_group_names(&swarm.workers)
        .send()
        .await?;
    assert!(groups.auto_scaling_groups().is_empty(), "{groups:?}");
    for role in ["worker", "manager"] {
        let name = format!("/swarmhook/{}/join-token/{role}", swarm.stack);
        let read = lab.ssm().get_parameter().name(&name).send().await;
        assert!(read.is_err(), "{name} is still there");
    }
    Ok(())
}
