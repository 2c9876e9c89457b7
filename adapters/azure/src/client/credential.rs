//! Tokens from the managed identity the code runs as. In a Function app the platform's
//! identity endpoint (`IDENTITY_ENDPOINT`, `X-IDENTITY-HEADER: $IDENTITY_HEADER`,
//! api-version 2019-08-01); elsewhere a VM's Instance Metadata Service (`Metadata: true`,
//! api-version 2018-02-01). A user-assigned identity is named by `AZURE_CLIENT_ID`.

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::time::OffsetDateTime;
use serde::Deserialize;

const IMDS_TOKEN_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

#[derive(Clone)]
pub struct ManagedIdentity {
    http: reqwest::Client,
    source: Source,
    client_id: Option<String>,
}

#[derive(Clone)]
enum Source {
    AppService { endpoint: String, header: String },
    Imds,
}

impl std::fmt::Debug for ManagedIdentity {
    // The identity header is a secret: it is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::AppService { endpoint, .. } => format!("identity endpoint {endpoint}"),
            Source::Imds => "IMDS".to_owned(),
        };
        f.debug_struct("ManagedIdentity")
            .field("source", &source)
            .field("client_id", &self.client_id)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Seconds since the epoch, as a string (App Service, IMDS) or a number.
    expires_on: serde_json::Value,
}

impl ManagedIdentity {
    /// The identity of the environment: the Function app's when its identity endpoint is
    /// set, otherwise the VM's.
    pub fn from_environment(http: reqwest::Client) -> ManagedIdentity {
        let source = match (
            std::env::var("IDENTITY_ENDPOINT"),
            std::env::var("IDENTITY_HEADER"),
        ) {
            (Ok(endpoint), Ok(header)) => Source::AppService { endpoint, header },
            _ => Source::Imds,
        };
        let client_id = std::env::var("AZURE_CLIENT_ID")
            .ok()
            .filter(|c| !c.is_empty());
        ManagedIdentity {
            http,
            source,
            client_id,
        }
    }
}

fn credential_error(message: String) -> azure_core::Error {
    azure_core::Error::with_message(ErrorKind::Credential, message)
}

#[async_trait]
impl TokenCredential for ManagedIdentity {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let [scope] = scopes else {
            return Err(credential_error(format!(
                "a managed identity takes one scope, not {}",
                scopes.len()
            )));
        };
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        let mut query = vec![("resource", resource.to_owned())];
        if let Some(id) = &self.client_id {
            query.push(("client_id", id.clone()));
        }
        let (base, version) = match &self.source {
            Source::AppService { endpoint, .. } => (endpoint.as_str(), "2019-08-01"),
            Source::Imds => (IMDS_TOKEN_URL, "2018-02-01"),
        };
        query.push(("api-version", version.into()));
        let mut url = azure_core::http::Url::parse(base).map_err(|e| {
            credential_error(format!("the identity endpoint {base} is not a URL: {e}"))
        })?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let request = match &self.source {
            Source::AppService { header, .. } => self
                .http
                .get(url.as_str())
                .header("X-IDENTITY-HEADER", header),
            Source::Imds => self.http.get(url.as_str()).header("Metadata", "true"),
        };
        let response = request
            .send()
            .await
            .map_err(|e| azure_core::Error::new(ErrorKind::Credential, e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let shown: String = body.chars().take(300).collect();
            return Err(credential_error(format!(
                "the identity endpoint answered {status} for {resource}: {shown}"
            )));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| azure_core::Error::new(ErrorKind::Credential, e))?;
        let expires = match &answer.expires_on {
            serde_json::Value::String(s) => s.parse::<i64>().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        }
        .ok_or_else(|| credential_error("the token's expires_on is not a time".into()))?;
        let expires_on = OffsetDateTime::from_unix_timestamp(expires)
            .map_err(|e| azure_core::Error::new(ErrorKind::Credential, e))?;
        Ok(AccessToken::new(answer.access_token, expires_on))
    }
}
