//! Asking for a reconcile soon after a join or a removal, at most once per window, so the
//! load balancer and the managers' record follow a change before the next scheduled tick,
//! and a hundred changes at once still cost a handful of runs (and of Route 53 calls).

use crate::ports::{ClusterStore, WriteOutcome};

use super::ExecuteError;

/// Conditional writes tried before giving up to other writers.
const ATTEMPTS: usize = 8;

/// Claims the window `[now, now + window_seconds)` for one requested reconcile. True when
/// this caller claimed it and must send the request (delayed by the window, so the changes
/// that follow within it are seen by the same run); false when a request made earlier in
/// the window already covers this change.
#[tracing::instrument(skip(store), fields(now, window_seconds))]
pub async fn request_reconcile<S: ClusterStore>(
    store: &S,
    now: u64,
    window_seconds: u64,
) -> Result<bool, ExecuteError> {
    for _ in 0..ATTEMPTS {
        let mut record = store.load().await?;
        if record
            .reconcile_requested_until
            .is_some_and(|until| until > now)
        {
            return Ok(false);
        }
        let expected = record.generation;
        record.generation += 1;
        record.reconcile_requested_until = Some(now + window_seconds.max(1));
        match store.save(&record, expected).await? {
            WriteOutcome::Written => return Ok(true),
            WriteOutcome::Conflict => continue,
        }
    }
    Err(ExecuteError::Contended {
        what: "request a reconcile",
        attempts: ATTEMPTS,
    })
}
