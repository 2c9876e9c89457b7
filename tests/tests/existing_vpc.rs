//! The template in a user's own network: given an existing VPC and its subnets, the stack
//! makes no VPC, the nodes launch in those subnets, the balancer is internal (no public
//! subnets were given), the workers run on spot when asked, and deleting the stack leaves
//! the user's VPC and subnets.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::Lab;

const SUBNET_A: &str = "10.200.93.0/24";
const SUBNET_B: &str = "10.200.94.0/24";

#[tokio::test]
async fn a_swarm_forms_in_an_existing_vpc_which_outlives_the_stack() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let ec2 = lab.ec2();
    let vpc = lab.create_vpc("10.200.0.0/16").await?;
    let mut subnets = Vec::new();
    for (cidr, zone) in [(SUBNET_A, "a"), (SUBNET_B, "b")] {
        let zone = format!("{}{zone}", lab.info.region);
        subnets.push(lab.create_subnet(&vpc, cidr, Some(zone)).await?);
    }

    let spec = ProductSpec::new(SUBNET_A, SUBNET_B, 1, 1)
        .answer("ExistingVpcId", &vpc)
        .answer("ExistingSubnetIds", &subnets.join(","))
        .answer("WorkersOnSpot", "true");
    let product = Product::launch(&lab, &spec).await?;

    let resources = lab
        .cloudformation()
        .describe_stack_resources()
        .stack_name(&product.stack_id)
        .send()
        .await?;
    let resources = resources.stack_resources();
    let made: BTreeSet<&str> = resources.iter().filter_map(|r| r.resource_type()).collect();
    assert!(
        !made.contains("AWS::EC2::VPC") && !made.contains("AWS::EC2::Subnet"),
        "the stack made network of its own: {made:?}"
    );

    let mut instances = product.ids(&lab, &product.managers).await?;
    instances.extend(product.ids(&lab, &product.workers).await?);
    assert_eq!(instances.len(), 2, "{instances:?}");
    let described = ec2
        .describe_instances()
        .set_instance_ids(Some(instances.clone()))
        .send()
        .await?;
    for instance in described.reservations().iter().flat_map(|r| r.instances()) {
        let subnet = instance.subnet_id().unwrap_or_default();
        assert!(
            subnets.iter().any(|s| s == subnet),
            "{:?} launched in {subnet}, not in {subnets:?}",
            instance.instance_id()
        );
        assert_eq!(instance.vpc_id(), Some(vpc.as_str()));
    }

    let balancer = resources
        .iter()
        .find(|r| r.logical_resource_id() == Some("SwarmLoadBalancer"))
        .and_then(|r| r.physical_resource_id())
        .ok_or_else(|| anyhow::anyhow!("no balancer in the stack"))?;
    let described = lab
        .elbv2()
        .describe_load_balancers()
        .load_balancer_arns(balancer)
        .send()
        .await?;
    let balancer = described
        .load_balancers()
        .first()
        .ok_or_else(|| anyhow::anyhow!("balancer {balancer} not found"))?;
    assert_eq!(balancer.scheme(), Some(&LoadBalancerSchemeEnum::Internal));
    assert_eq!(balancer.vpc_id(), Some(vpc.as_str()));

    let groups = lab
        .autoscaling()
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&product.workers)
        .send()
        .await?;
    let on_demand = groups
        .auto_scaling_groups()
        .first()
        .and_then(|g| g.mixed_instances_policy())
        .and_then(|p| p.instances_distribution())
        .and_then(|d| d.on_demand_percentage_above_base_capacity());
    assert_eq!(on_demand, Some(0), "workers on spot: no on-demand share");

    lab.delete_stack_completely(&product.stack_id).await?;
    let left = ec2.describe_vpcs().vpc_ids(&vpc).send().await?;
    assert_eq!(left.vpcs().len(), 1, "the user's VPC went with the stack");
    let left = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnets.clone()))
        .send()
        .await?;
    assert_eq!(
        left.subnets().len(),
        2,
        "the user's subnets went with the stack"
    );
    Ok(())
}
