use std::time::Duration;

/// What can go wrong between a test and the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab is not running ({path}): run the tests through `make test`, or `make lab-up` first")]
    NotRunning {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the lab's description {path} is not valid JSON")]
    BadLabJson {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("timed out after {waited:?} waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
    #[error("{operation} failed")]
    Aws {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the lab's status endpoint failed")]
    Status(#[source] reqwest::Error),
    #[error("{0}")]
    Unexpected(String),
}

impl LabError {
    pub fn aws(
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        LabError::Aws {
            operation,
            source: Box::new(source),
        }
    }
}
