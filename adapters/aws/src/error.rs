//! SDK errors as the brain's PortError, classified retryable or not as the SDK's own
//! retry classifiers decide: the error codes it treats as throttling or transient, a
//! modeled error marked retryable, the HTTP statuses it retries (500, 502, 503, 504),
//! and no answer at all (a timeout, a connection that failed). Everything else (access
//! denied, validation, a missing resource) cannot succeed by asking again.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::retry::ProvideErrorKind;
use swarmhook::ports::PortError;

/// HTTP statuses the SDK's status-code classifier retries.
const TRANSIENT_STATUSES: [u16; 4] = [500, 502, 503, 504];
/// Route 53: a change to the zone is still being applied (retryable, not in the SDK's list).
const ALSO_TRANSIENT: [&str; 1] = ["PriorRequestNotComplete"];

pub(crate) fn port_error<E>(
    operation: &'static str,
    target: &str,
    err: SdkError<E, HttpResponse>,
) -> PortError
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
{
    PortError {
        operation,
        target: target.to_owned(),
        retryable: is_retryable(&err),
        source: Box::new(err),
    }
}

pub(crate) fn is_retryable<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + ProvideErrorKind,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => {
            let code = ProvideErrorMetadata::code(e.err()).unwrap_or_default();
            e.err().retryable_error_kind().is_some()
                || THROTTLING_ERRORS.contains(&code)
                || TRANSIENT_ERRORS.contains(&code)
                || ALSO_TRANSIENT.contains(&code)
                || TRANSIENT_STATUSES.contains(&e.raw().status().as_u16())
        }
        _ => false,
    }
}

pub(crate) fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}
