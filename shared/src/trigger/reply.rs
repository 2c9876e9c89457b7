//! What the brain hands back to the trigger for one message.

use crate::execute::{BalanceReport, ReconcileReport};
use crate::plan::LifecycleResult;

/// What the trigger does with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Handled, or nothing to do: delete it.
    Done,
    /// Not yet: deliver it again after this many seconds.
    RetryAfter { seconds: u64 },
    /// Delivering it again cannot help: move it, as it came, to the dead-letter queue
    /// with this reason (any lifecycle action it carried is completed already).
    DeadLetter { reason: String },
}

/// What happened, for the trigger's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A lifecycle action was completed.
    Completed {
        launching: bool,
        result: LifecycleResult,
        /// When the cloud began the transition (milliseconds since the epoch).
        began_at_ms: Option<i64>,
    },
    /// A reconcile ran (and the balancer was brought in line, when the stack has one).
    Reconciled {
        run: Box<ReconcileReport>,
        balance: Option<BalanceReport>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub disposition: Disposition,
    pub report: Option<Report>,
}

impl Reply {
    pub(super) fn done() -> Reply {
        Reply {
            disposition: Disposition::Done,
            report: None,
        }
    }

    pub(super) fn dead_letter(reason: impl Into<String>) -> Reply {
        Reply {
            disposition: Disposition::DeadLetter {
                reason: reason.into(),
            },
            report: None,
        }
    }
}
