//! Bounded waits: poll until a condition holds or a deadline passes. Deadlines are
//! generous (the machine is shared); they bound a test, they do not measure it.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{Lab, LabError};

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

/// As `until`, firing the lab's schedules (the stacks' reconcile) every ten seconds
/// while waiting, rather than leaving it to the minute schedule.
pub async fn until_reconciled<T, F, Fut>(
    lab: &Lab,
    what: &str,
    timeout: Duration,
    probe: F,
) -> Result<T, LabError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(Option<T>, String), LabError>>,
{
    let every = Duration::from_secs(10);
    let last = std::sync::Mutex::new(None::<Instant>);
    until(what, timeout, || async {
        let due = last
            .lock()
            .map(|t| t.is_none_or(|t| t.elapsed() >= every))
            .unwrap_or(true);
        if due {
            lab.fire_schedules().await?;
            if let Ok(mut t) = last.lock() {
                *t = Some(Instant::now());
            }
        }
        probe().await
    })
    .await
}
