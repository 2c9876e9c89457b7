//! The lab's CloudFormation creates Network Load Balancers with TCP listeners.

use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerTypeEnum, ProtocolEnum};
use swarmhook_lab_tests::{unique_name, Lab};

#[tokio::test]
async fn a_template_with_an_nlb_and_a_tcp_listener_creates() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let stack = lab
        .create_stack(
            &unique_name("nlb"),
            "lab-nlb.yaml",
            &[("SubnetCidr", "10.200.31.0/24")],
        )
        .await?;
    assert_eq!(lab.settled_status(&stack).await?, "CREATE_COMPLETE");
    let arn = lab
        .stack_outputs(&stack)
        .await?
        .remove("BalancerArn")
        .ok_or_else(|| anyhow::anyhow!("no BalancerArn output"))?;
    let elb = lab.elbv2();
    let lbs = elb
        .describe_load_balancers()
        .load_balancer_arns(&arn)
        .send()
        .await?;
    assert_eq!(
        lbs.load_balancers()[0].r#type(),
        Some(&LoadBalancerTypeEnum::Network)
    );
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&arn)
        .send()
        .await?;
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.protocol(), Some(&ProtocolEnum::Tcp));
    assert_eq!(listener.port(), Some(80));
    lab.delete_stack(&stack).await?;
    assert_eq!(lab.settled_status(&stack).await?, "DELETE_COMPLETE");
    Ok(())
}
