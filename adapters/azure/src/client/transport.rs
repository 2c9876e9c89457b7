//! The pipeline's transport: one reqwest client (rustls), trusting the platform's roots
//! and, when `SSL_CERT_FILE` names a PEM bundle, those certificates too (how a host adds
//! its own authorities; the lab's endpoints are signed by the lab's).

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::error::ErrorKind;
use azure_core::http::headers::{HeaderName, HeaderValue, Headers};
use azure_core::http::{AsyncRawResponse, Body, HttpClient, Method, Request, StatusCode};

/// Building the HTTP client failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("reading the certificates in SSL_CERT_FILE ({path})")]
    Certificates {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("building the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// A reqwest client for Azure's endpoints (and the token endpoints).
pub fn http_client() -> Result<reqwest::Client, TransportError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60));
    if let Ok(path) = std::env::var("SSL_CERT_FILE") {
        let pem = std::fs::read(&path).map_err(|e| TransportError::Certificates {
            path: path.clone(),
            source: Box::new(e),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            TransportError::Certificates {
                path: path.clone(),
                source: Box::new(e),
            }
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(TransportError::Build)
}

/// azure_core's `HttpClient` over reqwest.
#[derive(Debug, Clone)]
pub(super) struct Transport(pub(super) reqwest::Client);

impl Transport {
    pub(super) fn shared(self) -> Arc<dyn HttpClient> {
        Arc::new(self)
    }
}

fn method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Put => reqwest::Method::PUT,
        Method::Post => reqwest::Method::POST,
        Method::Delete => reqwest::Method::DELETE,
        Method::Patch => reqwest::Method::PATCH,
        Method::Head => reqwest::Method::HEAD,
        _ => reqwest::Method::OPTIONS,
    }
}

#[async_trait]
impl HttpClient for Transport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut builder = self
            .0
            .request(method(request.method()), request.url().as_str());
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Body::Bytes(bytes) = request.body() {
            builder = builder.body(bytes.to_vec());
        }
        let response = builder.send().await.map_err(|e| {
            let kind = if e.is_connect() {
                ErrorKind::Connection
            } else {
                ErrorKind::Io
            };
            azure_core::Error::new(kind, e)
        })?;
        let status = StatusCode::from(response.status().as_u16());
        let mut headers = Headers::new();
        for (name, value) in response.headers() {
            if let Ok(text) = value.to_str() {
                headers.insert(
                    HeaderName::from(name.as_str().to_owned()),
                    HeaderValue::from(text.to_owned()),
                );
            }
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| azure_core::Error::new(ErrorKind::Io, e))?;
        Ok(AsyncRawResponse::from_bytes(status, headers, body))
    }
}
