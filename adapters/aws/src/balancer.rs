//! The balancer port over Elastic Load Balancing (a Network Load Balancer) and the worker
//! group's target group attachments.
//!
//! What swarmhook creates carries the tag `swarmhook:cluster=<cluster>`, and its target
//! groups are named `sh<8 hex of the cluster>-<tcp|udp|tu>-<port>` (at most 32 characters,
//! unique per cluster), so observing finds them without a record of its own.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ProtocolEnum, Tag, TargetGroupAttribute, TargetTypeEnum,
};
use swarmhook::plan::{
    BalancerChange, BalancerView, ListenerProtocol, ManagedListener, ManagedTargetGroup,
    TargetProtocol, HEALTH_CHECK_PORT,
};
use swarmhook::ports::{Balancer, PortError};

use crate::error::{code_of, port_error};

/// The tag that marks what swarmhook created, and for which cluster.
pub const CLUSTER_TAG: &str = "swarmhook:cluster";

/// A Network Load Balancer's default listener quota.
const DEFAULT_LISTENER_QUOTA: usize = 50;
/// Target groups one Auto Scaling group may have attached.
const DEFAULT_TARGET_GROUP_QUOTA: usize = 50;
/// DescribeTags takes at most 20 resources a call.
const TAGS_PER_CALL: usize = 20;

/// How long a deregistered target's connections may drain when the template does not
/// say (the balancer's own default, 300 s, outlasts a spot instance's notice).
pub const DEFAULT_DEREGISTRATION_DELAY_SECONDS: u32 = 30;
/// The balancer's own bound for the delay.
const MAX_DEREGISTRATION_DELAY_SECONDS: u32 = 3600;

/// Where the balancer is, from a function's environment (the template sets it):
/// `SWARMHOOK_LOAD_BALANCER` (its ARN; unset: the stack has none), `SWARMHOOK_VPC` and
/// `SWARMHOOK_WORKER_GROUP` (whose instances are the targets), and
/// `SWARMHOOK_DEREGISTRATION_DELAY_SECONDS` (each target group's deregistration delay;
/// default 30).
#[derive(Debug, Clone)]
pub struct BalancerSettings {
    pub load_balancer_arn: String,
    pub vpc_id: String,
    pub worker_group: String,
    pub deregistration_delay_seconds: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum BalancerSettingError {
    #[error("setting {0} is missing: the template sets it beside SWARMHOOK_LOAD_BALANCER")]
    Missing(&'static str),
    #[error("setting {name} is {value:?}: expected whole seconds from 0 to {MAX_DEREGISTRATION_DELAY_SECONDS}")]
    Invalid { name: &'static str, value: String },
}

impl BalancerSettings {
    pub fn from_env() -> Result<Option<BalancerSettings>, BalancerSettingError> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        let Some(load_balancer_arn) = var("SWARMHOOK_LOAD_BALANCER") else {
            return Ok(None);
        };
        let required = |name| var(name).ok_or(BalancerSettingError::Missing(name));
        const DELAY: &str = "SWARMHOOK_DEREGISTRATION_DELAY_SECONDS";
        let deregistration_delay_seconds = match var(DELAY) {
            None => DEFAULT_DEREGISTRATION_DELAY_SECONDS,
            Some(value) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|s| *s <= MAX_DEREGISTRATION_DELAY_SECONDS)
                .ok_or(BalancerSettingError::Invalid { name: DELAY, value })?,
        };
        Ok(Some(BalancerSettings {
            load_balancer_arn,
            vpc_id: required("SWARMHOOK_VPC")?,
            worker_group: required("SWARMHOOK_WORKER_GROUP")?,
            deregistration_delay_seconds,
        }))
    }
}

pub struct NetworkBalancer {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    load_balancer_arn: String,
    vpc_id: String,
    worker_group: String,
    deregistration_delay_seconds: u32,
    cluster: String,
}

impl NetworkBalancer {
    pub fn new(
        elb: aws_sdk_elasticloadbalancingv2::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        settings: &BalancerSettings,
        cluster: impl Into<String>,
    ) -> Self {
        NetworkBalancer {
            elb,
            autoscaling,
            load_balancer_arn: settings.load_balancer_arn.clone(),
            vpc_id: settings.vpc_id.clone(),
            worker_group: settings.worker_group.clone(),
            deregistration_delay_seconds: settings.deregistration_delay_seconds,
            cluster: cluster.into(),
        }
    }

    /// The clients made from a function's SDK configuration.
    pub fn from_sdk(
        aws: &aws_config::SdkConfig,
        settings: &BalancerSettings,
        cluster: impl Into<String>,
    ) -> Self {
        NetworkBalancer::new(
            aws_sdk_elasticloadbalancingv2::Client::new(aws),
            aws_sdk_autoscaling::Client::new(aws),
            settings,
            cluster,
        )
    }

    /// This cluster's target group name prefix.
    fn prefix(&self) -> String {
        format!("sh{:08x}-", fnv1a(&self.cluster))
    }

    fn target_group_name(&self, port: u16, protocol: TargetProtocol) -> String {
        let proto = match protocol {
            TargetProtocol::Tcp => "tcp",
            TargetProtocol::Udp => "udp",
            TargetProtocol::TcpUdp => "tu",
        };
        format!("{}{proto}-{port}", self.prefix())
    }

    fn tag(&self) -> Tag {
        Tag::builder().key(CLUSTER_TAG).value(&self.cluster).build()
    }

    /// Of `arns`, those tagged as this cluster's.
    async fn ours(&self, arns: &[String]) -> Result<Vec<String>, PortError> {
        let mut ours = Vec::new();
        for chunk in arns.chunks(TAGS_PER_CALL) {
            let out = self
                .elb
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| port_error("DescribeTags", &self.load_balancer_arn, e))?;
            for d in out.tag_descriptions() {
                let mine = d
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some(CLUSTER_TAG) && t.value() == Some(&self.cluster));
                if let (true, Some(arn)) = (mine, d.resource_arn()) {
                    ours.push(arn.to_owned());
                }
            }
        }
        Ok(ours)
    }
}

/// FNV-1a, 32 bits: a short stable name part (not a secret, not a security boundary).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn listener_protocol(p: &ProtocolEnum) -> Option<ListenerProtocol> {
    Some(match p {
        ProtocolEnum::Tcp => ListenerProtocol::Tcp,
        ProtocolEnum::Udp => ListenerProtocol::Udp,
        ProtocolEnum::TcpUdp => ListenerProtocol::TcpUdp,
        ProtocolEnum::Tls => ListenerProtocol::Tls,
        _ => return None,
    })
}

fn target_protocol(p: &ProtocolEnum) -> Option<TargetProtocol> {
    Some(match p {
        ProtocolEnum::Tcp => TargetProtocol::Tcp,
        ProtocolEnum::Udp => TargetProtocol::Udp,
        ProtocolEnum::TcpUdp => TargetProtocol::TcpUdp,
        _ => return None,
    })
}

fn forward(target_group_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

fn certificates(certificate: &Option<String>) -> Option<Vec<Certificate>> {
    certificate
        .as_ref()
        .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

/// Removing what is already gone is not an error.
fn gone<E: aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_elasticloadbalancingv2::error::SdkError<E, R>,
) -> bool {
    code_of(e).is_some_and(|c| c.contains("NotFound"))
}

impl Balancer for NetworkBalancer {
    async fn observe(&self) -> Result<BalancerView, PortError> {
        let lb = self.load_balancer_arn.as_str();
        let mut listeners = Vec::new();
        let mut pages = self
            .elb
            .describe_listeners()
            .load_balancer_arn(lb)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeListeners", lb, e))?;
            listeners.extend(page.listeners().iter().cloned());
        }
        let listener_arns: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_owned))
            .collect();
        let ours = self.ours(&listener_arns).await?;

        let mut view = BalancerView {
            listener_quota: DEFAULT_LISTENER_QUOTA,
            target_group_quota: DEFAULT_TARGET_GROUP_QUOTA,
            ..BalancerView::default()
        };
        for l in &listeners {
            let (Some(arn), Some(port)) = (l.listener_arn(), l.port()) else {
                continue;
            };
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            let managed = ours.iter().any(|o| o == arn);
            let protocol = l.protocol().and_then(listener_protocol);
            let target = l
                .default_actions()
                .iter()
                .find_map(|a| a.target_group_arn().map(str::to_owned));
            match (managed, protocol, target) {
                (true, Some(protocol), Some(target_group_arn)) => {
                    view.listeners.push(ManagedListener {
                        arn: arn.to_owned(),
                        port,
                        protocol,
                        certificate: l
                            .certificates()
                            .iter()
                            .find_map(|c| c.certificate_arn().map(str::to_owned)),
                        target_group_arn,
                    })
                }
                _ => view.foreign_ports.push(port),
            }
        }

        // Target groups: ours by name, confirmed by tag; attached if the group has them.
        let prefix = self.prefix();
        let mut groups = Vec::new();
        let mut pages = self.elb.describe_target_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeTargetGroups", lb, e))?;
            groups.extend(
                page.target_groups()
                    .iter()
                    .filter(|g| {
                        g.target_group_name()
                            .is_some_and(|n| n.starts_with(&prefix))
                    })
                    .cloned(),
            );
        }
        let group_arns: Vec<String> = groups
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_owned))
            .collect();
        let ours = self.ours(&group_arns).await?;
        // The group is gone once the stack deletes it: nothing is attached then.
        let attached = match self
            .autoscaling
            .describe_load_balancer_target_groups()
            .auto_scaling_group_name(&self.worker_group)
            .send()
            .await
        {
            Ok(out) => out
                .load_balancer_target_groups()
                .iter()
                .filter_map(|a| a.load_balancer_target_group_arn().map(str::to_owned))
                .collect(),
            Err(e) if code_of(&e) == Some("ValidationError") => Vec::new(),
            Err(e) => {
                return Err(port_error(
                    "DescribeLoadBalancerTargetGroups",
                    &self.worker_group,
                    e,
                ))
            }
        };
        for g in &groups {
            let (Some(arn), Some(port), Some(protocol)) = (
                g.target_group_arn(),
                g.port().and_then(|p| u16::try_from(p).ok()),
                g.protocol().and_then(target_protocol),
            ) else {
                continue;
            };
            if ours.iter().any(|o| o == arn) {
                view.target_groups.push(ManagedTargetGroup {
                    arn: arn.to_owned(),
                    port,
                    protocol,
                    attached: attached.iter().any(|a| a == arn),
                });
            }
        }
        Ok(view)
    }

    async fn apply(&self, change: &BalancerChange) -> Result<(), PortError> {
        match change {
            BalancerChange::CreateTargetGroup { port, protocol } => {
                let name = self.target_group_name(*port, *protocol);
                let created = self
                    .elb
                    .create_target_group()
                    .name(&name)
                    .protocol(ProtocolEnum::from(protocol.as_aws()))
                    .port(i32::from(*port))
                    .vpc_id(&self.vpc_id)
                    .target_type(TargetTypeEnum::Instance)
                    .health_check_protocol(ProtocolEnum::Tcp)
                    .health_check_port(HEALTH_CHECK_PORT.to_string())
                    .tags(self.tag())
                    .send()
                    .await
                    .map_err(|e| port_error("CreateTargetGroup", &name, e))?;
                // Creating it again (the same settings) answers the existing group, so a
                // retry after a lost attribute change sets it then.
                let arn = created
                    .target_groups()
                    .first()
                    .and_then(|g| g.target_group_arn())
                    .ok_or_else(|| PortError {
                        operation: "CreateTargetGroup",
                        target: name.clone(),
                        retryable: false,
                        source: "the answer names no target group".into(),
                    })?;
                self.elb
                    .modify_target_group_attributes()
                    .target_group_arn(arn)
                    .attributes(
                        TargetGroupAttribute::builder()
                            .key("deregistration_delay.timeout_seconds")
                            .value(self.deregistration_delay_seconds.to_string())
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| port_error("ModifyTargetGroupAttributes", arn, e))?;
            }
            BalancerChange::AttachTargetGroup { target_group_arn } => {
                self.autoscaling
                    .attach_load_balancer_target_groups()
                    .auto_scaling_group_name(&self.worker_group)
                    .target_group_arns(target_group_arn)
                    .send()
                    .await
                    .map_err(|e| {
                        port_error("AttachLoadBalancerTargetGroups", target_group_arn, e)
                    })?;
            }
            BalancerChange::CreateListener {
                port,
                protocol,
                certificate,
                target_group_arn,
            } => {
                self.elb
                    .create_listener()
                    .load_balancer_arn(&self.load_balancer_arn)
                    .port(i32::from(*port))
                    .protocol(ProtocolEnum::from(protocol.as_aws()))
                    .set_certificates(certificates(certificate))
                    .default_actions(forward(target_group_arn))
                    .tags(self.tag())
                    .send()
                    .await
                    .map_err(|e| port_error("CreateListener", &format!("port {port}"), e))?;
            }
            BalancerChange::ModifyListener {
                listener_arn,
                protocol,
                certificate,
                target_group_arn,
            } => {
                self.elb
                    .modify_listener()
                    .listener_arn(listener_arn)
                    .protocol(ProtocolEnum::from(protocol.as_aws()))
                    .set_certificates(certificates(certificate))
                    .default_actions(forward(target_group_arn))
                    .send()
                    .await
                    .map_err(|e| port_error("ModifyListener", listener_arn, e))?;
            }
            BalancerChange::DeleteListener { listener_arn } => {
                match self
                    .elb
                    .delete_listener()
                    .listener_arn(listener_arn)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(port_error("DeleteListener", listener_arn, e)),
                }
            }
            BalancerChange::DetachTargetGroup { target_group_arn } => {
                self.autoscaling
                    .detach_load_balancer_target_groups()
                    .auto_scaling_group_name(&self.worker_group)
                    .target_group_arns(target_group_arn)
                    .send()
                    .await
                    .map_err(|e| {
                        port_error("DetachLoadBalancerTargetGroups", target_group_arn, e)
                    })?;
            }
            BalancerChange::DeleteTargetGroup { target_group_arn } => {
                match self
                    .elb
                    .delete_target_group()
                    .target_group_arn(target_group_arn)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(port_error("DeleteTargetGroup", target_group_arn, e)),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fnv1a;

    #[test]
    fn names_are_stable_and_short() {
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        // "sh" + 8 hex + "-" + "tu-" + 5 digits: 19 characters, under the 32 allowed.
        assert!(format!("sh{:08x}-tu-65535", fnv1a("a-very-long-stack-name-indeed")).len() <= 32);
    }
}
