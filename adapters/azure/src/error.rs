//! A failed call as the brain's PortError: retryable as `CallError` classifies it
//! (throttling, timeouts, server errors and lost connections may pass; a refusal, a
//! missing resource or a malformed answer cannot).

use swarmhook::ports::PortError;

use crate::client::CallError;

pub(crate) fn port_error(operation: &'static str, target: &str, err: CallError) -> PortError {
    PortError {
        operation,
        target: target.to_owned(),
        retryable: err.is_retryable(),
        source: Box::new(err),
    }
}

/// An answer that is not what the API documents: asking again will not change it.
pub(crate) fn shape_error(operation: &'static str, target: &str, why: String) -> PortError {
    PortError {
        operation,
        target: target.to_owned(),
        retryable: false,
        source: why.into(),
    }
}
