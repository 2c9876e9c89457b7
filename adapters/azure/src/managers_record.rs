//! The managers' A record in the cluster's private DNS zone, written only on the
//! condition that it still holds what was read: `If-Match` with the etag of that read
//! (`If-None-Match: *` when there was none), so two writers cannot clobber each other.

use std::sync::Mutex;

use azure_core::http::Method;
use serde::Deserialize;
use serde_json::json;
use swarmhook::ports::{DnsRecord, ManagersRecord, PortError, WriteOutcome};

use crate::arm::{ArmScope, PRIVATE_DNS_API};
use crate::client::{Audience, AzureClient};
use crate::error::{port_error, shape_error};

/// How long resolvers keep the managers' addresses.
const TTL_SECONDS: i64 = 60;

pub struct PrivateDnsRecord {
    client: AzureClient,
    url: String,
    name: String,
    /// The record as last read, and its etag.
    last: Mutex<Option<(DnsRecord, String)>>,
}

#[derive(Deserialize)]
struct RecordSet {
    etag: Option<String>,
    properties: RecordProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordProperties {
    ttl: Option<i64>,
    #[serde(default)]
    a_records: Vec<ARecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ARecord {
    ipv4_address: String,
}

impl PrivateDnsRecord {
    /// The A record `name` of the private zone `zone` in the cluster's group.
    pub fn new(client: AzureClient, scope: &ArmScope, zone: &str, name: &str) -> Self {
        let id = scope.resource_id(&format!(
            "Microsoft.Network/privateDnsZones/{zone}/A/{name}"
        ));
        PrivateDnsRecord {
            client,
            url: scope.url(&id, PRIVATE_DNS_API),
            name: format!("{name}.{zone}"),
            last: Mutex::new(None),
        }
    }

    async fn read(&self) -> Result<Option<(DnsRecord, String)>, PortError> {
        let answer = self
            .client
            .send(Audience::Management, Method::Get, &self.url, &[], None)
            .await
            .map_err(|e| port_error("reading the managers' record", &self.name, e))?;
        if answer.status == 404 {
            return Ok(None);
        }
        if !answer.ok() {
            return Err(port_error(
                "reading the managers' record",
                &self.name,
                answer.unexpected(),
            ));
        }
        let set: RecordSet = answer
            .json()
            .map_err(|e| shape_error("reading the managers' record", &self.name, e.to_string()))?;
        let etag = set
            .etag
            .or_else(|| answer.header("etag").map(str::to_owned))
            .unwrap_or_default();
        let mut values: Vec<String> = set
            .properties
            .a_records
            .into_iter()
            .map(|a| a.ipv4_address)
            .collect();
        values.sort();
        let record = DnsRecord {
            ttl: set.properties.ttl.unwrap_or(TTL_SECONDS),
            values,
        };
        Ok(Some((record, etag)))
    }
}

impl ManagersRecord for PrivateDnsRecord {
    async fn current(&self) -> Result<Option<DnsRecord>, PortError> {
        let read = self.read().await?;
        let record = read.as_ref().map(|(r, _)| r.clone());
        if let Ok(mut last) = self.last.lock() {
            *last = read;
        }
        Ok(record)
    }

    async fn replace(
        &self,
        current: Option<&DnsRecord>,
        wanted: &[String],
    ) -> Result<WriteOutcome, PortError> {
        let remembered = self.last.lock().ok().and_then(|l| l.clone());
        let etag = match (current, remembered) {
            (None, _) => None,
            (Some(c), Some((r, etag))) if &r == c => Some(etag),
            (Some(c), _) => match self.read().await? {
                Some((r, etag)) if &r == c => Some(etag),
                _ => return Ok(WriteOutcome::Conflict),
            },
        };
        let condition = match &etag {
            Some(etag) => ("if-match", etag.clone()),
            None => ("if-none-match", "*".to_owned()),
        };
        let answer = if wanted.is_empty() {
            if current.is_none() {
                return Ok(WriteOutcome::Written);
            }
            self.client
                .send(
                    Audience::Management,
                    Method::Delete,
                    &self.url,
                    &[condition],
                    None,
                )
                .await
        } else {
            let mut values = wanted.to_vec();
            values.sort();
            let records: Vec<_> = values.iter().map(|v| json!({"ipv4Address": v})).collect();
            let body = json!({"properties": {"ttl": TTL_SECONDS, "aRecords": records}});
            self.client
                .json(
                    Audience::Management,
                    Method::Put,
                    &self.url,
                    &[condition],
                    &body,
                )
                .await
        }
        .map_err(|e| port_error("writing the managers' record", &self.name, e))?;
        match answer.status {
            200 | 201 | 202 | 204 => {
                if let Ok(mut last) = self.last.lock() {
                    *last = None;
                }
                Ok(WriteOutcome::Written)
            }
            404 if wanted.is_empty() => Ok(WriteOutcome::Written),
            409 | 412 => Ok(WriteOutcome::Conflict),
            _ => Err(port_error(
                "writing the managers' record",
                &self.name,
                answer.unexpected(),
            )),
        }
    }
}
