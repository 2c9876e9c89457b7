//! Bounded waits: poll until a condition holds or a deadline passes. Deadlines are
//! generous (the machine is shared); they bound a test, they do not measure it.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::LabError;

/// Polls `probe` every `every` until it returns `Some`, or fails after `timeout`.
/// `probe` also returns a description of what it saw, for the timeout message.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T, LabError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(Option<T>, String), LabError>>,
{
    let started = Instant::now();
    let every = Duration::from_millis(250);
    loop {
        let (found, seen) = probe().await?;
        if let Some(value) = found {
            return Ok(value);
        }
        if started.elapsed() > timeout {
            return Err(LabError::Timeout {
                what: what.to_owned(),
                waited: started.elapsed(),
                last: seen,
            });
        }
        tokio::time::sleep(every).await;
    }
}
