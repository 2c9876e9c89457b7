//! The cluster's record in Blob Storage: one blob per cluster. A write is conditional on
//! the blob's etag as the record was read (`If-Match`), the first on there being none
//! (`If-None-Match: *`): the loser of a race gets 412 (or 409) and observes again.

use std::collections::BTreeMap;
use std::sync::Mutex;

use azure_core::http::Method;
use swarmhook::cluster::StoreRecord;
use swarmhook::ports::{ClusterStore, PortError, Saved};

use crate::client::{Audience, AzureClient};
use crate::error::{port_error, shape_error};
use crate::storage::{storage_headers, storage_url};

/// Etags remembered per generation read or written (a handful: one delivery's).
const ETAGS_KEPT: usize = 8;

pub struct BlobStore {
    client: AzureClient,
    /// The container's URL.
    container: String,
    /// The blob's URL.
    blob: String,
    etags: Mutex<BTreeMap<u64, String>>,
}

impl BlobStore {
    /// The record of `cluster` in `container` of the account whose blob endpoint is
    /// `blob_endpoint`.
    pub fn new(client: AzureClient, blob_endpoint: &str, container: &str, cluster: &str) -> Self {
        BlobStore {
            client,
            container: storage_url(blob_endpoint, container),
            blob: storage_url(blob_endpoint, &format!("{container}/{cluster}.json")),
            etags: Mutex::new(BTreeMap::new()),
        }
    }

    fn remember(&self, generation: u64, etag: Option<&str>) {
        let Some(etag) = etag else { return };
        if let Ok(mut etags) = self.etags.lock() {
            etags.insert(generation, etag.to_owned());
            while etags.len() > ETAGS_KEPT {
                etags.pop_first();
            }
        }
    }

    fn etag_of(&self, generation: u64) -> Option<String> {
        self.etags.lock().ok()?.get(&generation).cloned()
    }

    /// The record and its etag (None: no blob yet).
    async fn read(&self) -> Result<(StoreRecord, Option<String>), PortError> {
        let answer = self
            .client
            .send(
                Audience::Storage,
                Method::Get,
                &self.blob,
                &storage_headers(),
                None,
            )
            .await
            .map_err(|e| port_error("reading the cluster record", &self.blob, e))?;
        if answer.status == 404 {
            return Ok((StoreRecord::default(), None));
        }
        if !answer.ok() {
            return Err(port_error(
                "reading the cluster record",
                &self.blob,
                answer.unexpected(),
            ));
        }
        let record: StoreRecord = answer
            .json()
            .map_err(|e| shape_error("reading the cluster record", &self.blob, e.to_string()))?;
        let etag = answer.header("etag").map(str::to_owned);
        self.remember(record.generation, etag.as_deref());
        Ok((record, etag))
    }

    async fn create_container(&self) -> Result<(), PortError> {
        let url = format!("{}?restype=container", self.container);
        let answer = self
            .client
            .send(
                Audience::Storage,
                Method::Put,
                &url,
                &storage_headers(),
                Some(Vec::new()),
            )
            .await
            .map_err(|e| port_error("creating the store's container", &self.container, e))?;
        match answer.status {
            201 | 409 => Ok(()),
            _ => Err(port_error(
                "creating the store's container",
                &self.container,
                answer.unexpected(),
            )),
        }
    }
}

impl ClusterStore for BlobStore {
    async fn load(&self) -> Result<StoreRecord, PortError> {
        Ok(self.read().await?.0)
    }

    async fn save(
        &self,
        record: &StoreRecord,
        expected_generation: u64,
    ) -> Result<Saved, PortError> {
        let condition = if expected_generation == 0 {
            ("if-none-match", "*".to_owned())
        } else {
            let etag = match self.etag_of(expected_generation) {
                Some(etag) => etag,
                None => {
                    let (current, etag) = self.read().await?;
                    match etag {
                        Some(etag) if current.generation == expected_generation => etag,
                        _ => {
                            return Ok(Saved::Lost {
                                current: Some(Box::new(current)),
                            })
                        }
                    }
                }
            };
            ("if-match", etag)
        };
        let body = serde_json::to_vec(record)
            .map_err(|e| shape_error("writing the cluster record", &self.blob, e.to_string()))?;
        let mut headers = storage_headers();
        headers.push(("x-ms-blob-type", "BlockBlob".to_owned()));
        headers.push(("content-type", "application/json".to_owned()));
        headers.push(condition);
        for attempt in 0..2 {
            let answer = self
                .client
                .send(
                    Audience::Storage,
                    Method::Put,
                    &self.blob,
                    &headers,
                    Some(body.clone()),
                )
                .await
                .map_err(|e| port_error("writing the cluster record", &self.blob, e))?;
            match answer.status {
                200 | 201 => {
                    self.remember(record.generation, answer.header("etag"));
                    return Ok(Saved::Written);
                }
                // Someone else wrote first (409: the blob was created by another).
                409 | 412 => return Ok(Saved::Lost { current: None }),
                404 if attempt == 0 => self.create_container().await?,
                _ => {
                    return Err(port_error(
                        "writing the cluster record",
                        &self.blob,
                        answer.unexpected(),
                    ))
                }
            }
        }
        Err(shape_error(
            "writing the cluster record",
            &self.blob,
            "the container was created but the blob still cannot be written".into(),
        ))
    }

    async fn remove(&self) -> Result<(), PortError> {
        let answer = self
            .client
            .send(
                Audience::Storage,
                Method::Delete,
                &self.blob,
                &storage_headers(),
                None,
            )
            .await
            .map_err(|e| port_error("removing the cluster record", &self.blob, e))?;
        match answer.status {
            202 | 200 | 404 => Ok(()),
            _ => Err(port_error(
                "removing the cluster record",
                &self.blob,
                answer.unexpected(),
            )),
        }
    }
}
