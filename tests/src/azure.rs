//! The Azure part of the running lab: its storage (Azurite over TLS, taking bearer
//! tokens) and its managed identities, whose tokens come from the lab's stand-in of the
//! App Service / Functions identity endpoint.

use serde::Deserialize;

use crate::{Lab, LabError};

/// The storage service version the lab's clients send (the newest Azurite knows).
pub const STORAGE_VERSION: &str = "2025-11-05";
/// The audience of a token for Azure Storage.
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com/";
/// The audience of a token for Azure Resource Manager.
pub const MANAGEMENT_RESOURCE: &str = "https://management.azure.com/";
/// The audience of a token for Key Vault's data plane.
pub const KEY_VAULT_RESOURCE: &str = "https://vault.azure.net";

/// What `lab.json` says of the Azure lab.
#[derive(Debug, Clone, Deserialize)]
pub struct AzureLabInfo {
    pub ca_cert: String,
    pub blob_endpoint: String,
    pub queue_endpoint: String,
    pub identity_endpoint: String,
    pub management_endpoint: String,
    pub key_vault_endpoint: String,
    pub imds_endpoint: String,
    pub functions_http_endpoint: String,
    pub subscription_id: String,
    pub tenant_id: String,
    pub location: String,
}

/// A managed identity made in the lab, with the header its holder sends for tokens.
#[derive(Debug, Clone, Deserialize)]
pub struct Identity {
    pub name: String,
    pub principal_id: String,
    pub client_id: String,
    pub identity_header: String,
    pub identity_endpoint: String,
}

/// The identity endpoint's answer (`api-version=2019-08-01`).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_on: String,
    pub resource: String,
    pub token_type: String,
    pub client_id: String,
}

pub struct AzureLab {
    pub info: AzureLabInfo,
    /// Trusts the lab's CA and nothing else.
    pub https: reqwest::Client,
    pub(crate) lab_endpoint: String,
    pub(crate) http: reqwest::Client,
}

impl AzureLab {
    pub fn of(lab: &Lab) -> Result<AzureLab, LabError> {
        let info = lab.info.azure.clone().ok_or_else(|| {
            LabError::Unexpected(
                "the running lab has no Azure part (lab.json has no \"azure\")".into(),
            )
        })?;
        let pem = std::fs::read(&info.ca_cert).map_err(|e| {
            LabError::Unexpected(format!("reading the lab CA {}: {e}", info.ca_cert))
        })?;
        let ca = reqwest::Certificate::from_pem(&pem).map_err(LabError::Status)?;
        let https = reqwest::Client::builder()
            .tls_certs_only([ca])
            .build()
            .map_err(LabError::Status)?;
        Ok(AzureLab {
            info,
            https,
            lab_endpoint: lab.info.endpoint.clone(),
            http: reqwest::Client::new(),
        })
    }

    /// A new managed identity (or the one of that name).
    pub async fn identity(&self, name: &str) -> Result<Identity, LabError> {
        let r = self
            .http
            .post(format!("{}/_lab/azure/identities", self.lab_endpoint))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .map_err(LabError::Status)?;
        let status = r.status();
        let text = r.text().await.map_err(LabError::Status)?;
        if !status.is_success() {
            return Err(LabError::Unexpected(format!(
                "creating identity {name}: {status} {text}"
            )));
        }
        serde_json::from_str(&text).map_err(|e| LabError::Unexpected(format!("{e}: {text}")))
    }

    /// Asks the identity endpoint as the identity's holder would; the raw status and body.
    pub async fn ask_token(
        &self,
        header: Option<&str>,
        query: &[(&str, &str)],
    ) -> Result<(u16, String), LabError> {
        let url = reqwest::Url::parse_with_params(&self.info.identity_endpoint, query)
            .map_err(|e| LabError::Unexpected(format!("the identity endpoint's URL: {e}")))?;
        let mut req = self.http.get(url);
        if let Some(h) = header {
            req = req.header("X-IDENTITY-HEADER", h);
        }
        let r = req.send().await.map_err(LabError::Status)?;
        let status = r.status().as_u16();
        Ok((status, r.text().await.map_err(LabError::Status)?))
    }

    /// A bearer token for `resource`, as the identity.
    pub async fn token(
        &self,
        identity: &Identity,
        resource: &str,
    ) -> Result<TokenAnswer, LabError> {
        let (status, body) = self
            .ask_token(
                Some(&identity.identity_header),
                &[("resource", resource), ("api-version", "2019-08-01")],
            )
            .await?;
        if status != 200 {
            return Err(LabError::Unexpected(format!(
                "token for {}: {status} {body}",
                identity.name
            )));
        }
        serde_json::from_str(&body).map_err(|e| LabError::Unexpected(format!("{e}: {body}")))
    }
}
