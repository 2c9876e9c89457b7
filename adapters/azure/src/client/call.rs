//! One REST call through the pipeline of its audience, answered as status, headers and
//! body: the adapters read the statuses that mean something to them (404, 409, 412) and
//! everything else becomes a `CallError`, classified retryable or not.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::Headers;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::policies::Policy;
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Method, Pipeline, PipelineSendOptions,
    Request, RetryOptions, Transport as CoreTransport, Url,
};
use azure_core::time::Duration;
use azure_core::Bytes;
use serde::Deserialize;

use super::transport::Transport;

/// Whose token a call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Management,
    KeyVault,
    Storage,
}

impl Audience {
    fn scope(self) -> &'static str {
        match self {
            Audience::Management => "https://management.azure.com/.default",
            Audience::KeyVault => "https://vault.azure.net/.default",
            Audience::Storage => "https://storage.azure.com/.default",
        }
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &'static str) -> Option<&str> {
        self.headers
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The service's error code: `x-ms-error-code`, else ARM's `{"error":{"code"}}`.
    pub fn error_code(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: String,
        }
        self.header("x-ms-error-code")
            .map(str::to_owned)
            .or_else(|| {
                serde_json::from_slice::<Body>(&self.body)
                    .ok()
                    .map(|b| b.error.code)
            })
    }

    /// An answer the caller did not expect, as an error.
    pub fn unexpected(self) -> CallError {
        let code = self.error_code();
        let text = String::from_utf8_lossy(&self.body);
        CallError::Status {
            status: self.status,
            code,
            message: text.chars().take(400).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Status {
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("the request did not complete")]
    Transport(#[source] azure_core::Error),
    #[error("the answer is not what the API documents")]
    Shape(#[source] serde_json::Error),
}

/// Statuses a call may succeed after: what azure_core's retry policy retries (timeouts,
/// throttling, server errors) and has run out of tries for.
const RETRYABLE_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

impl CallError {
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Status { status, .. } => RETRYABLE_STATUSES.contains(status),
            // No answer at all, or no token yet (the identity endpoint is a moment from
            // ready): asking again may succeed. A request that could not be built cannot.
            CallError::Transport(e) => matches!(
                e.kind(),
                ErrorKind::Io | ErrorKind::Connection | ErrorKind::Credential
            ),
            CallError::Shape(_) => false,
        }
    }
}

/// A pipeline per audience, sharing one transport and one identity.
#[derive(Clone)]
pub struct AzureClient {
    management: Pipeline,
    key_vault: Pipeline,
    storage: Pipeline,
}

impl std::fmt::Debug for AzureClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AzureClient")
    }
}

fn pipeline(
    http: &reqwest::Client,
    credential: Arc<dyn TokenCredential>,
    audience: Audience,
) -> Pipeline {
    let options = ClientOptions {
        transport: Some(CoreTransport::new(Transport(http.clone()).shared())),
        // A few quick tries within a function's invocation; a call still failing after
        // them is the event's to retry (its message comes back).
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: Duration::milliseconds(300),
            max_retries: 4,
            max_total_elapsed: Duration::seconds(30),
            max_delay: Duration::seconds(10),
        }),
        ..Default::default()
    };
    let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
        credential,
        [audience.scope()],
    ));
    Pipeline::new(
        Some(env!("CARGO_PKG_NAME")),
        Some(env!("CARGO_PKG_VERSION")),
        options,
        Vec::new(),
        vec![auth],
        None,
    )
}

impl AzureClient {
    pub fn new(http: &reqwest::Client, credential: Arc<dyn TokenCredential>) -> AzureClient {
        AzureClient {
            management: pipeline(http, credential.clone(), Audience::Management),
            key_vault: pipeline(http, credential.clone(), Audience::KeyVault),
            storage: pipeline(http, credential, Audience::Storage),
        }
    }

    /// Sends one request; any status comes back as an `Answer` (after the pipeline's
    /// retries), a request that never got one as an error.
    pub async fn send(
        &self,
        audience: Audience,
        method: Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, CallError> {
        let url = Url::parse(url).map_err(|e| CallError::Transport(e.into()))?;
        let mut request = Request::new(url, method);
        for (name, value) in headers {
            request.insert_header(*name, value.clone());
        }
        if let Some(body) = body {
            request.set_body(body);
        }
        let pipeline = match audience {
            Audience::Management => &self.management,
            Audience::KeyVault => &self.key_vault,
            Audience::Storage => &self.storage,
        };
        let options = PipelineSendOptions {
            skip_checks: true,
            ..Default::default()
        };
        let response = pipeline
            .send(&Context::new(), &mut request, Some(options))
            .await
            .map_err(CallError::Transport)?;
        let (status, headers, body) = response.deconstruct();
        Ok(Answer {
            status: u16::from(status),
            headers,
            body: Bytes::copy_from_slice(&body),
        })
    }

    /// A JSON request to ARM (or Key Vault): `body` serialised, `Content-Type` set.
    pub async fn json(
        &self,
        audience: Audience,
        method: Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: &serde_json::Value,
    ) -> Result<Answer, CallError> {
        let mut all = vec![("content-type", "application/json".to_owned())];
        all.extend(headers.iter().cloned());
        let bytes = serde_json::to_vec(body).map_err(CallError::Shape)?;
        self.send(audience, method, url, &all, Some(bytes)).await
    }
}
