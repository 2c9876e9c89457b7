//! The managers' DNS record follows the store's manager list (which joins, removals and
//! reconcile keep equal to the swarm's managers): one read, and a write only when they
//! differ, so a change of workers costs no DNS call at all and a manager change one.

use crate::ports::{ClusterStore, ManagersRecord, WriteOutcome};

use super::launch::ExecuteError;

/// Lost races in a row before giving up until the next trigger.
const ATTEMPTS: usize = 3;

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSync {
    /// The record already held every manager.
    Unchanged,
    /// The record now holds these addresses (empty: it was removed).
    Written(Vec<String>),
    /// No swarm yet: nothing to publish.
    NoSwarm,
}

/// Makes the record hold exactly the recorded managers' addresses. With `remove`, makes
/// it hold none (the stack is being deleted: its zone must be empty to go).
#[tracing::instrument(skip_all, fields(remove))]
pub async fn sync_managers_record<S: ClusterStore, D: ManagersRecord>(
    store: &S,
    dns: &D,
    remove: bool,
) -> Result<RecordSync, ExecuteError> {
    for _ in 0..ATTEMPTS {
        let wanted: Vec<String> = if remove {
            Vec::new()
        } else {
            let record = store.load().await?;
            if record.swarm.is_none() {
                return Ok(RecordSync::NoSwarm);
            }
            let mut addresses: Vec<String> =
                record.managers.iter().map(|m| m.address.clone()).collect();
            addresses.sort();
            addresses.dedup();
            addresses
        };
        let current = dns.current().await?;
        let holds = match &current {
            Some(c) => c.values == wanted,
            None => wanted.is_empty(),
        };
        if holds {
            return Ok(RecordSync::Unchanged);
        }
        match dns.replace(current.as_ref(), &wanted).await? {
            WriteOutcome::Written => {
                tracing::info!(managers = ?wanted, "the managers' record updated");
                return Ok(RecordSync::Written(wanted));
            }
            WriteOutcome::Conflict => {
                tracing::info!("the managers' record changed under us; reading it again")
            }
        }
    }
    Err(ExecuteError::Contended {
        what: "update the managers' DNS record",
        attempts: ATTEMPTS,
    })
}
