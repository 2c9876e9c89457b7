//! The load balancer planner: one listener and target group per published port, stale
//! ones removed, quotas and foreign listeners respected, each rule by one example.

use swarmhook::cluster::{PublishedPort, Transport};
use swarmhook::plan::{
    plan_balancer, wanted_listeners, BalancerChange, BalancerView, ListenerProtocol,
    ManagedListener, ManagedTargetGroup, TargetProtocol,
};

fn published(port: u16, transport: Transport, certificate: Option<&str>) -> PublishedPort {
    PublishedPort {
        port,
        transport,
        service: format!("web{port}"),
        certificate: certificate.map(str::to_owned),
    }
}

fn view() -> BalancerView {
    BalancerView {
        listener_quota: 50,
        target_group_quota: 50,
        ..BalancerView::default()
    }
}

fn group(port: u16, protocol: TargetProtocol, attached: bool) -> ManagedTargetGroup {
    ManagedTargetGroup {
        arn: format!("tg-{port}-{protocol:?}"),
        port,
        protocol,
        attached,
    }
}

fn listener(port: u16, protocol: ListenerProtocol, target_group_arn: &str) -> ManagedListener {
    ManagedListener {
        arn: format!("l-{port}"),
        port,
        protocol,
        certificate: None,
        target_group_arn: target_group_arn.into(),
    }
}

#[test]
fn a_published_port_gets_a_group_attached_to_the_workers_then_a_listener() {
    let (wanted, refused) = wanted_listeners(&[published(80, Transport::Tcp, None)]);
    assert!(refused.is_empty());
    let mut v = view();
    assert_eq!(
        plan_balancer(&wanted, &v).changes,
        vec![BalancerChange::CreateTargetGroup {
            port: 80,
            protocol: TargetProtocol::Tcp
        }]
    );
    v.target_groups.push(group(80, TargetProtocol::Tcp, false));
    assert_eq!(
        plan_balancer(&wanted, &v).changes,
        vec![
            BalancerChange::AttachTargetGroup {
                target_group_arn: "tg-80-Tcp".into()
            },
            BalancerChange::CreateListener {
                port: 80,
                protocol: ListenerProtocol::Tcp,
                certificate: None,
                target_group_arn: "tg-80-Tcp".into()
            }
        ]
    );
    v.target_groups[0].attached = true;
    v.listeners
        .push(listener(80, ListenerProtocol::Tcp, "tg-80-Tcp"));
    assert!(plan_balancer(&wanted, &v).changes.is_empty(), "settled");
}

#[test]
fn a_port_no_longer_published_loses_its_listener_then_its_group() {
    let mut v = view();
    v.target_groups.push(group(80, TargetProtocol::Tcp, true));
    v.listeners
        .push(listener(80, ListenerProtocol::Tcp, "tg-80-Tcp"));
    assert_eq!(
        plan_balancer(&[], &v).changes,
        vec![
            BalancerChange::DeleteListener {
                listener_arn: "l-80".into()
            },
            BalancerChange::DetachTargetGroup {
                target_group_arn: "tg-80-Tcp".into()
            },
            BalancerChange::DeleteTargetGroup {
                target_group_arn: "tg-80-Tcp".into()
            },
        ]
    );
}

#[test]
fn tcp_and_udp_on_one_port_share_a_listener_and_tls_comes_from_a_label() {
    let (wanted, refused) = wanted_listeners(&[
        published(53, Transport::Tcp, None),
        published(53, Transport::Udp, None),
        published(
            443,
            Transport::Tcp,
            Some("arn:aws:acm:us-east-1:1:certificate/x"),
        ),
        published(
            5000,
            Transport::Udp,
            Some("arn:aws:acm:us-east-1:1:certificate/y"),
        ),
    ]);
    let protocols: Vec<(u16, ListenerProtocol)> =
        wanted.iter().map(|w| (w.port, w.protocol)).collect();
    assert_eq!(
        protocols,
        vec![(53, ListenerProtocol::TcpUdp), (443, ListenerProtocol::Tls)]
    );
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].port, 5000);
    assert!(
        refused[0].reason.contains("TLS needs TCP"),
        "{}",
        refused[0].reason
    );
}

#[test]
fn adding_a_certificate_changes_the_listener_in_place() {
    let (wanted, _) = wanted_listeners(&[published(443, Transport::Tcp, Some("arn:cert"))]);
    let mut v = view();
    v.target_groups.push(group(443, TargetProtocol::Tcp, true));
    v.listeners
        .push(listener(443, ListenerProtocol::Tcp, "tg-443-Tcp"));
    assert_eq!(
        plan_balancer(&wanted, &v).changes,
        vec![BalancerChange::ModifyListener {
            listener_arn: "l-443".into(),
            protocol: ListenerProtocol::Tls,
            certificate: Some("arn:cert".into()),
            target_group_arn: "tg-443-Tcp".into()
        }]
    );
}

#[test]
fn a_new_transport_gets_a_new_group_and_the_old_one_goes_only_once_the_listener_moved() {
    let (wanted, _) = wanted_listeners(&[
        published(53, Transport::Tcp, None),
        published(53, Transport::Udp, None),
    ]);
    let mut v = view();
    v.target_groups.push(group(53, TargetProtocol::Tcp, true));
    v.listeners
        .push(listener(53, ListenerProtocol::Tcp, "tg-53-Tcp"));
    // The listener keeps forwarding to the TCP group while the new one is made.
    assert_eq!(
        plan_balancer(&wanted, &v).changes,
        vec![BalancerChange::CreateTargetGroup {
            port: 53,
            protocol: TargetProtocol::TcpUdp
        }]
    );
    v.target_groups
        .push(group(53, TargetProtocol::TcpUdp, false));
    assert_eq!(
        plan_balancer(&wanted, &v).changes,
        vec![
            BalancerChange::AttachTargetGroup {
                target_group_arn: "tg-53-TcpUdp".into()
            },
            BalancerChange::ModifyListener {
                listener_arn: "l-53".into(),
                protocol: ListenerProtocol::TcpUdp,
                certificate: None,
                target_group_arn: "tg-53-TcpUdp".into()
            },
        ]
    );
    // Moved: the old group goes.
    v.target_groups[1].attached = true;
    v.listeners[0] = listener(53, ListenerProtocol::TcpUdp, "tg-53-TcpUdp");
    assert_eq!(
        plan_balancer(&wanted, &v).changes,
        vec![
            BalancerChange::DetachTargetGroup {
                target_group_arn: "tg-53-Tcp".into()
            },
            BalancerChange::DeleteTargetGroup {
                target_group_arn: "tg-53-Tcp".into()
            },
        ]
    );
}

#[test]
fn ports_over_the_quota_or_held_by_a_foreign_listener_are_refused_with_the_reason() {
    let (wanted, _) = wanted_listeners(&[
        published(80, Transport::Tcp, None),
        published(81, Transport::Tcp, None),
        published(82, Transport::Tcp, None),
        published(8080, Transport::Tcp, None),
    ]);
    let mut v = view();
    v.listener_quota = 3;
    v.foreign_ports = vec![8080];
    let plan = plan_balancer(&wanted, &v);
    let created: Vec<u16> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            BalancerChange::CreateTargetGroup { port, .. } => Some(*port),
            _ => None,
        })
        .collect();
    assert_eq!(created, vec![80, 81], "the foreign listener takes one of 3");
    let refused: Vec<u16> = plan.refused.iter().map(|r| r.port).collect();
    assert_eq!(refused, vec![82, 8080]);
    assert!(
        plan.refused[0].reason.contains("quota"),
        "{}",
        plan.refused[0].reason
    );
    assert!(
        plan.refused[1].reason.contains("did not create"),
        "{}",
        plan.refused[1].reason
    );
}
