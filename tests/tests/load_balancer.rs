//! The load balancer follows the swarm: a service's published port gets a listener and a
//! target group attached to the worker group (every worker registered, new ones too), a
//! TLS listener with its certificate when a label asks for one, and every target group
//! the deregistration delay the stack was given; the service gone, they go; and a stack
//! delete with such listeners present completes.

use std::collections::BTreeSet;
use std::time::Duration;

use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::tiny_image::{self, TINY_IMAGE};
use swarmhook_lab_tests::{wait, Lab, LabError};

/// The stack's Network Load Balancer, by the DNS name its outputs give.
async fn load_balancer(lab: &Lab, swarm: &Product) -> anyhow::Result<String> {
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let dns = outputs
        .get("LoadBalancerDnsName")
        .ok_or_else(|| anyhow::anyhow!("no LoadBalancerDnsName output: {outputs:?}"))?;
    let all = lab.elbv2().describe_load_balancers().send().await?;
    all.load_balancers()
        .iter()
        .find(|lb| lb.dns_name() == Some(dns.as_str()))
        .and_then(|lb| lb.load_balancer_arn().map(str::to_owned))
        .ok_or_else(|| anyhow::anyhow!("no load balancer named {dns}"))
}

/// What forwards a port: the listener's protocol, its target group, the group's targets,
/// and whether the worker group has the target group attached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Forwarding {
    protocol: String,
    certificate: Option<String>,
    target_group: String,
    targets: BTreeSet<String>,
    attached: bool,
}

async fn forwarding(
    lab: &Lab,
    swarm: &Product,
    lb: &str,
    port: i32,
) -> Result<Option<Forwarding>, LabError> {
    let listeners = lab
        .elbv2()
        .describe_listeners()
        .load_balancer_arn(lb)
        .send()
        .await
        .map_err(|e| LabError::aws("DescribeListeners", e))?;
    let Some(listener) = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(port))
    else {
        return Ok(None);
    };
    let target_group = listener
        .default_actions()
        .iter()
        .find_map(|a| a.target_group_arn())
        .unwrap_or_default()
        .to_owned();
    let health = lab
        .elbv2()
        .describe_target_health()
        .target_group_arn(&target_group)
        .send()
        .await
        .map_err(|e| LabError::aws("DescribeTargetHealth", e))?;
    let targets = health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
        .collect();
    let attached = lab
        .autoscaling()
        .describe_load_balancer_target_groups()
        .auto_scaling_group_name(&swarm.workers)
        .send()
        .await
        .map_err(|e| LabError::aws("DescribeLoadBalancerTargetGroups", e))?
        .load_balancer_target_groups()
        .iter()
        .any(|a| a.load_balancer_target_group_arn() == Some(target_group.as_str()));
    Ok(Some(Forwarding {
        protocol: listener
            .protocol()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        certificate: listener
            .certificates()
            .iter()
            .find_map(|c| c.certificate_arn().map(str::to_owned)),
        target_group,
        targets,
        attached,
    }))
}

#[tokio::test]
async fn published_ports_get_listeners_that_follow_the_workers_and_go_with_the_service(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.81.0/24", "10.200.82.0/24", 1, 2)
        .answer("DeregistrationDelaySeconds", "45");
    let swarm = Product::launch(&lab, &spec).await?;
    let lb = load_balancer(&lab, &swarm).await?;
    let manager = swarm.a_manager(&lab).await?;
    tiny_image::load_on_every_node(&lab, &swarm).await?;

    // A service publishing 8080 (TCP) and 5353 (UDP), and one on 8443 whose label asks
    // for TLS with a certificate from ACM.
    lab.run_ok(
        &manager,
        &format!("docker service create -d --no-resolve-image --name web -p 8080:80 -p 5353:53/udp {TINY_IMAGE} >/dev/null"),
    )
    .await?;
    let certificate = aws_sdk_acm::Client::new(&lab.sdk)
        .request_certificate()
        .domain_name(format!("apps.{}.example.com", swarm.stack))
        .send()
        .await?
        .certificate_arn()
        .ok_or_else(|| anyhow::anyhow!("RequestCertificate returned no ARN"))?
        .to_owned();
    lab.run_ok(
        &manager,
        &format!("docker service create -d --no-resolve-image --name secure --label swarmhook.tls.8443={certificate} -p 8443:80 {TINY_IMAGE} >/dev/null"),
    )
    .await?;
    let workers: BTreeSet<String> = swarm.ids(&lab, &swarm.workers).await?.into_iter().collect();
    let web = wait::until_reconciled(
        &lab,
        "listeners for 8080, 5353 and 8443",
        Duration::from_secs(240),
        || async {
            let tcp = forwarding(&lab, &swarm, &lb, 8080).await?;
            let udp = forwarding(&lab, &swarm, &lb, 5353).await?;
            let tls = forwarding(&lab, &swarm, &lb, 8443).await?;
            let ready = |f: &Option<Forwarding>| {
                f.as_ref()
                    .is_some_and(|f| f.attached && f.targets == workers)
            };
            let done = ready(&tcp) && ready(&udp) && ready(&tls);
            Ok((
                done.then(|| (tcp.clone(), udp.clone(), tls.clone())),
                format!("{tcp:?} {udp:?} {tls:?}"),
            ))
        },
    )
    .await?;
    let (tcp, udp, tls) = (
        web.0.expect("checked"),
        web.1.expect("checked"),
        web.2.expect("checked"),
    );
    assert_eq!(tcp.protocol, "TCP");
    assert_eq!(udp.protocol, "UDP");
    assert_eq!(
        (tls.protocol.as_str(), tls.certificate.as_deref()),
        ("TLS", Some(certificate.as_str()))
    );
    assert_eq!(tcp.certificate, None);
    // A leaving worker's connections get the stack's delay, not the balancer's 300 s.
    for f in [&tcp, &udp, &tls] {
        let attributes = lab
            .elbv2()
            .describe_target_group_attributes()
            .target_group_arn(&f.target_group)
            .send()
            .await?;
        let delay = attributes
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|a| a.value());
        assert_eq!(delay, Some("45"), "{}", f.target_group);
    }

    // More workers: Auto Scaling registers them in the attached target group.
    swarm.set_workers(&lab, 3).await?;
    swarm.in_service(&lab, 4).await?;
    let workers: BTreeSet<String> = swarm.ids(&lab, &swarm.workers).await?.into_iter().collect();
    wait::until(
        "the new worker registered",
        Duration::from_secs(120),
        || async {
            let f = forwarding(&lab, &swarm, &lb, 8080).await?;
            let done = f.as_ref().is_some_and(|f| f.targets == workers);
            Ok((done.then_some(()), format!("{f:?} want {workers:?}")))
        },
    )
    .await?;

    // The services gone, their listeners and target groups go.
    lab.run_ok(&manager, "docker service rm web secure >/dev/null")
        .await?;
    // A run removes a listener, and its target group in a later round (or run): wait
    // for both.
    let old_groups = [&tcp.target_group, &udp.target_group, &tls.target_group];
    wait::until_reconciled(
        &lab,
        "listeners and their target groups removed",
        Duration::from_secs(240),
        || async {
            let tcp = forwarding(&lab, &swarm, &lb, 8080).await?;
            let udp = forwarding(&lab, &swarm, &lb, 5353).await?;
            let tls = forwarding(&lab, &swarm, &lb, 8443).await?;
            let groups = lab
                .elbv2()
                .describe_target_groups()
                .send()
                .await
                .map_err(|e| LabError::aws("DescribeTargetGroups", e))?;
            let left: Vec<&str> = groups
                .target_groups()
                .iter()
                .filter_map(|g| g.target_group_arn())
                .filter(|arn| old_groups.iter().any(|old| old.as_str() == *arn))
                .collect();
            let done = tcp.is_none() && tls.is_none() && udp.is_none() && left.is_empty();
            Ok((
                done.then_some(()),
                format!("{tcp:?} {udp:?} {tls:?}; target groups left {left:?}"),
            ))
        },
    )
    .await?;

    // A stack delete with a dynamic listener present completes, and leaves none behind.
    lab.run_ok(
        &manager,
        &format!("docker service create -d --no-resolve-image --name again -p 9090:80 {TINY_IMAGE} >/dev/null"),
    )
    .await?;
    let again = wait::until_reconciled(
        &lab,
        "a listener for 9090",
        Duration::from_secs(240),
        || async {
            let f = forwarding(&lab, &swarm, &lb, 9090).await?;
            Ok((f.clone(), format!("{f:?}")))
        },
    )
    .await?;
    lab.delete_stack_completely(&swarm.stack_id).await?;
    let groups = lab.elbv2().describe_target_groups().send().await?;
    assert!(
        !groups
            .target_groups()
            .iter()
            .any(|g| g.target_group_arn() == Some(again.target_group.as_str())),
        "the dynamic target group outlived the stack"
    );
    Ok(())
}
