//! SDK errors as the brain's PortError, classified retryable or not.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use swarmhook::ports::PortError;

pub(crate) fn port_error<E, R>(
    operation: &'static str,
    target: &str,
    err: SdkError<E, R>,
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or_default();
            code.contains("Throttl")
                || code.contains("LimitExceeded")
                || code == "InternalServerError"
                || code == "ServiceUnavailable"
                || code == "RequestLimitExceeded"
                // Route 53: a change to the zone is still being applied.
                || code == "PriorRequestNotComplete"
        }
        _ => false,
    };
    PortError {
        operation,
        target: target.to_owned(),
        retryable,
        source: Box::new(err),
    }
}

pub(crate) fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}
