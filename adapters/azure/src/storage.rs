//! What the Blob and Queue services need of every request: their API version, and the
//! account's endpoint with the path joined to it.

/// The Storage services' REST version the adapters speak.
pub const STORAGE_VERSION: &str = "2025-11-05";

/// `endpoint` (as `primaryEndpoints.blob` / `.queue` gives it) joined with `path`.
pub fn storage_url(endpoint: &str, path: &str) -> String {
    format!(
        "{}/{}",
        endpoint.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

pub fn storage_headers() -> Vec<(&'static str, String)> {
    vec![("x-ms-version", STORAGE_VERSION.to_owned())]
}
