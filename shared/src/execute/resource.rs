//! What the `Custom::Swarm` resource does to the cluster: record the spec, rotate the
//! join tokens, and remove what the functions created outside the template.

use crate::engine;
use crate::ports::{ClusterStore, NodeEngine, Saved, TokenVault};
use crate::resource::SwarmSpec;

use super::launch::{ExecuteError, TokenParameters};

/// Conditional writes lost in a row before giving up (each loss means someone else wrote).
const MAX_WRITE_RACES: usize = 8;

/// Records the spec in the cluster's record, unless it is already there.
#[tracing::instrument(skip_all, fields(managers = spec.manager_count, workers = spec.worker_count))]
pub async fn record_spec<S: ClusterStore>(store: &S, spec: &SwarmSpec) -> Result<(), ExecuteError> {
    for _ in 0..MAX_WRITE_RACES {
        let mut record = store.load().await?;
        if record.spec.as_ref() == Some(spec) {
            return Ok(());
        }
        let expected = record.generation;
        record.generation += 1;
        record.spec = Some(spec.clone());
        if store.save(&record, expected).await? == Saved::Written {
            tracing::info!("recorded the swarm's spec");
            return Ok(());
        }
    }
    Err(ExecuteError::Contended {
        what: "record the swarm's spec",
        attempts: MAX_WRITE_RACES,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// New tokens replaced the old ones, on this manager, and were published.
    Rotated { on: String },
    /// There is no swarm (or no published token) yet: the first tokens will be new anyway.
    NothingToRotate,
}

/// Rotates both join tokens on the first recorded manager that can, and publishes them.
#[tracing::instrument(skip_all)]
pub async fn rotate_tokens<S: ClusterStore, E: NodeEngine>(
    store: &S,
    engine_port: &E,
    tokens: &TokenParameters,
) -> Result<Rotation, ExecuteError> {
    let record = store.load().await?;
    if !record.swarm.as_ref().is_some_and(|s| s.tokens_published) {
        return Ok(Rotation::NothingToRotate);
    }
    let script = engine::rotate_tokens(&tokens.store, &tokens.worker, &tokens.manager)?;
    for manager in &record.managers {
        match engine_port.run(&manager.instance_id, &script).await {
            Ok(Some(out)) if out.exit_code == 0 => {
                tracing::info!(instance_id = %manager.instance_id, "rotated the join tokens");
                return Ok(Rotation::Rotated {
                    on: manager.instance_id.clone(),
                });
            }
            Ok(Some(out)) => {
                tracing::warn!(instance_id = %manager.instance_id, exit_code = out.exit_code, stderr = %out.stderr.trim(), "a manager could not rotate the tokens")
            }
            Ok(None) => {
                tracing::warn!(instance_id = %manager.instance_id, "a manager takes no commands")
            }
            Err(e) => {
                tracing::warn!(instance_id = %manager.instance_id, error = %e, "a manager could not be reached")
            }
        }
    }
    Err(ExecuteError::NoManager {
        what: "rotate the join tokens",
        tried: record.managers.len(),
    })
}

/// Removes the join tokens and the cluster's record. Safe to repeat, and safe when
/// nothing was ever created (a Delete after a failed Create).
#[tracing::instrument(skip_all)]
pub async fn remove_cluster<S: ClusterStore, V: TokenVault>(
    store: &S,
    vault: &V,
    tokens: &TokenParameters,
) -> Result<(), ExecuteError> {
    vault
        .remove(&[tokens.worker.clone(), tokens.manager.clone()])
        .await?;
    store.remove().await?;
    tracing::info!("removed the join tokens and the cluster's record");
    Ok(())
}
