//! The brain's clock for the Azure functions: the system's time, and tokio's timer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use swarmhook::ports::Clock;

pub struct TokioClock;

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default()
    }

    async fn pause(&self, how_long: Duration) {
        tokio::time::sleep(how_long).await
    }
}
