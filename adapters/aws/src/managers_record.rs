//! The managers' record over Route 53: one A record in the stack's private zone, holding
//! every manager's private address. A replacement is one atomic change batch that
//! DELETEs the exact values read and CREATEs the new ones: Route 53 refuses the batch
//! (InvalidChangeBatch) when the record changed meanwhile, which is the condition.

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use swarmhook::ports::{DnsRecord, ManagersRecord, PortError, WriteOutcome};

use crate::error::{code_of, port_error};

/// Short, so clients follow a manager change within a minute.
const TTL_SECONDS: i64 = 60;

/// Attempts per Route 53 call, throttled ones included, before the call fails (retryable:
/// the next reconcile tries again).
const ROUTE53_ATTEMPTS: u32 = 5;

/// Where the record is, from a function's environment (the template sets it):
/// `SWARMHOOK_ZONE` (the private hosted zone's id; unset: no record) and
/// `SWARMHOOK_MANAGERS_RECORD` (the record's name).
#[derive(Debug, Clone)]
pub struct RecordSettings {
    pub zone_id: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("setting SWARMHOOK_MANAGERS_RECORD is missing: the template sets it beside SWARMHOOK_ZONE")]
pub struct RecordSettingMissing;

impl RecordSettings {
    pub fn from_env() -> Result<Option<RecordSettings>, RecordSettingMissing> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        let Some(zone_id) = var("SWARMHOOK_ZONE") else {
            return Ok(None);
        };
        Ok(Some(RecordSettings {
            zone_id,
            name: var("SWARMHOOK_MANAGERS_RECORD").ok_or(RecordSettingMissing)?,
        }))
    }
}

pub struct Route53ManagersRecord {
    route53: aws_sdk_route53::Client,
    zone_id: String,
    /// Fully qualified, with the trailing dot Route 53 reports.
    name: String,
}

impl Route53ManagersRecord {
    pub fn new(route53: aws_sdk_route53::Client, settings: &RecordSettings) -> Self {
        let name = if settings.name.ends_with('.') {
            settings.name.clone()
        } else {
            format!("{}.", settings.name)
        };
        Route53ManagersRecord {
            route53,
            zone_id: settings.zone_id.clone(),
            name,
        }
    }

    /// The client made from a function's SDK configuration, with adaptive retries: Route
    /// 53 allows five requests a second per account, and the adaptive mode slows this
    /// client down when it is throttled instead of failing (up to `ROUTE53_ATTEMPTS`).
    pub fn from_sdk(aws: &aws_config::SdkConfig, settings: &RecordSettings) -> Self {
        let config = aws_sdk_route53::config::Builder::from(aws)
            .retry_config(
                aws_config::retry::RetryConfig::adaptive().with_max_attempts(ROUTE53_ATTEMPTS),
            )
            .build();
        Route53ManagersRecord::new(aws_sdk_route53::Client::from_conf(config), settings)
    }

    fn record_set(&self, ttl: i64, values: &[String]) -> Result<ResourceRecordSet, PortError> {
        let mut set = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(RrType::A)
            .ttl(ttl);
        for value in values {
            set = set.resource_records(
                ResourceRecord::builder()
                    .value(value)
                    .build()
                    .map_err(|e| invalid(&self.name, e))?,
            );
        }
        set.build().map_err(|e| invalid(&self.name, e))
    }
}

/// Route 53 names compare without case and with or without the final dot.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

fn invalid(name: &str, e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError {
        operation: "ChangeResourceRecordSets",
        target: name.to_owned(),
        retryable: false,
        source: Box::new(e),
    }
}

impl ManagersRecord for Route53ManagersRecord {
    async fn current(&self) -> Result<Option<DnsRecord>, PortError> {
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .start_record_name(&self.name)
            .start_record_type(RrType::A)
            .max_items(1)
            .send()
            .await
            .map_err(|e| port_error("ListResourceRecordSets", &self.name, e))?;
        let Some(set) = out
            .resource_record_sets()
            .iter()
            .find(|s| same_name(s.name(), &self.name) && *s.r#type() == RrType::A)
        else {
            return Ok(None);
        };
        let mut values: Vec<String> = set
            .resource_records()
            .iter()
            .map(|r| r.value().to_owned())
            .collect();
        values.sort();
        Ok(Some(DnsRecord {
            ttl: set.ttl().unwrap_or(TTL_SECONDS),
            values,
        }))
    }

    async fn replace(
        &self,
        current: Option<&DnsRecord>,
        wanted: &[String],
    ) -> Result<WriteOutcome, PortError> {
        let mut batch = ChangeBatch::builder().comment("swarmhook: the swarm's managers");
        if let Some(current) = current {
            batch = batch.changes(
                Change::builder()
                    .action(ChangeAction::Delete)
                    .resource_record_set(self.record_set(current.ttl, &current.values)?)
                    .build()
                    .map_err(|e| invalid(&self.name, e))?,
            );
        }
        if !wanted.is_empty() {
            batch = batch.changes(
                Change::builder()
                    .action(ChangeAction::Create)
                    .resource_record_set(self.record_set(TTL_SECONDS, wanted)?)
                    .build()
                    .map_err(|e| invalid(&self.name, e))?,
            );
        }
        let batch = batch.build().map_err(|e| invalid(&self.name, e))?;
        if batch.changes().is_empty() {
            return Ok(WriteOutcome::Written);
        }
        match self
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(batch)
            .send()
            .await
        {
            Ok(_) => Ok(WriteOutcome::Written),
            // The record is not what was read: someone else wrote it.
            Err(e) if code_of(&e) == Some("InvalidChangeBatch") => Ok(WriteOutcome::Conflict),
            Err(e) => Err(port_error("ChangeResourceRecordSets", &self.name, e)),
        }
    }
}
