//! Runs one non-terminal step: a conditional write to the store, or a script on a node.
//! Nothing here decides anything; the next observation tells what the step achieved.

use crate::cluster::{ClusterView, StoreRecord};
use crate::cluster::{Departure, InitClaim, JoinLease, ManagerRecord, NodeRecord, SwarmRecord};
use crate::engine;
use crate::plan::Step;
use crate::ports::{ClusterStore, NodeEngine, WriteOutcome};

use super::launch::{ExecuteError, TokenParameters};

/// Performs `step`, planned from `view`. Store writes are conditional on the generation
/// `view` read; a lost race is no error (the next observation sees the winner).
pub(super) async fn perform<S: ClusterStore, E: NodeEngine>(
    store: &S,
    engine_port: &E,
    tokens: &TokenParameters,
    view: &ClusterView,
    step: Step,
) -> Result<(), ExecuteError> {
    let mut record: StoreRecord = view.store.clone();
    record.generation = view.store.generation + 1;
    let expected = view.store.generation;
    match step {
        Step::ClaimInit { instance_id, .. } => {
            record.init_claim = Some(InitClaim {
                instance_id,
                generation: record.generation,
                claimed_at: view.now,
            });
            save(store, &record, expected).await?;
        }
        Step::InitSwarm {
            instance_id,
            advertise_address,
        } => {
            run(
                engine_port,
                &instance_id,
                &engine::init_swarm(&advertise_address)?,
            )
            .await?;
        }
        Step::RecordSwarm {
            instance_id,
            address,
            cluster_id,
            claim_generation,
            ..
        } => {
            let claim_holds = record
                .init_claim
                .as_ref()
                .is_some_and(|c| c.generation == claim_generation);
            if claim_holds && record.swarm.is_none() {
                record.swarm = Some(SwarmRecord {
                    cluster_id,
                    tokens_published: false,
                });
                record.managers.push(ManagerRecord {
                    instance_id,
                    address,
                });
                save(store, &record, expected).await?;
            }
        }
        Step::PublishTokens { instance_id, .. } => {
            let script = engine::publish_tokens(&tokens.worker, &tokens.manager)?;
            if run(engine_port, &instance_id, &script).await? {
                if let Some(swarm) = record.swarm.as_mut() {
                    swarm.tokens_published = true;
                }
                save(store, &record, expected).await?;
            }
        }
        Step::AcquireLease {
            instance_id,
            role,
            expires_at,
            ..
        } => {
            record.leases.retain(|l| l.instance_id != instance_id);
            record.leases.push(JoinLease {
                instance_id,
                role,
                expires_at,
            });
            save(store, &record, expected).await?;
        }
        Step::Join {
            instance_id,
            role,
            managers,
        } => {
            let script = engine::join_swarm(role, tokens.for_role(role), &managers)?;
            if let Some(out) = engine_port.run(&instance_id, &script).await? {
                match engine::parse_join_millis(&out.stdout) {
                    Some(raw_join_ms) => tracing::info!(raw_join_ms, "the engine joined"),
                    None if out.exit_code != 0 => {
                        tracing::warn!(exit_code = out.exit_code, stderr = %out.stderr.trim(), "the join failed")
                    }
                    None => {}
                }
            }
        }
        Step::RecordManager {
            instance_id,
            address,
            ..
        } => {
            if !record.has_manager(&instance_id) {
                record.managers.push(ManagerRecord {
                    instance_id,
                    address,
                });
            }
            save(store, &record, expected).await?;
        }
        Step::RecordJoined {
            instance_id,
            node_id,
            role,
            ..
        } => {
            record.leases.retain(|l| l.instance_id != instance_id);
            record.nodes.retain(|n| n.instance_id != instance_id);
            record.nodes.push(NodeRecord {
                instance_id,
                node_id,
                role,
            });
            save(store, &record, expected).await?;
        }
        Step::RecordDeparture {
            instance_id,
            node_id,
            role,
            ..
        } => {
            if record.departure_of(&instance_id).is_none() {
                record.departures.push(Departure {
                    instance_id,
                    node_id,
                    role,
                });
                save(store, &record, expected).await?;
            }
        }
        Step::Demote { via, node_id } => {
            run(engine_port, &via, &engine::demote_node(&node_id)?).await?;
        }
        Step::Drain { via, node_id } => {
            run(engine_port, &via, &engine::drain_node(&node_id)?).await?;
        }
        Step::Leave { instance_id } => {
            run(engine_port, &instance_id, &engine::leave_swarm()).await?;
        }
        Step::RemoveNode { via, node_id } => {
            run(engine_port, &via, &engine::remove_node(&node_id)?).await?;
        }
        Step::Forget { instance_id, .. } => {
            record.departures.retain(|d| d.instance_id != instance_id);
            record.managers.retain(|m| m.instance_id != instance_id);
            record.leases.retain(|l| l.instance_id != instance_id);
            record.nodes.retain(|n| n.instance_id != instance_id);
            save(store, &record, expected).await?;
        }
        // Terminal steps are the handlers' own.
        Step::Complete { .. } | Step::RetryLater { .. } | Step::Disregard { .. } => {}
    }
    Ok(())
}

async fn save<S: ClusterStore>(
    store: &S,
    record: &crate::cluster::StoreRecord,
    expected: u64,
) -> Result<(), ExecuteError> {
    if store.save(record, expected).await? == WriteOutcome::Conflict {
        tracing::info!(expected, "lost a write race; observing again");
    }
    Ok(())
}

/// Runs a script; true when it exited 0. A failure is logged (its stderr carries no
/// token: the scripts redact it) and the next observation decides what it meant.
async fn run<E: NodeEngine>(
    engine_port: &E,
    instance_id: &str,
    script: &str,
) -> Result<bool, ExecuteError> {
    match engine_port.run(instance_id, script).await? {
        None => Ok(false),
        Some(out) if out.exit_code == 0 => Ok(true),
        Some(out) => {
            let first_line = script.lines().next().unwrap_or_default();
            tracing::warn!(exit_code = out.exit_code, script = first_line, stderr = %out.stderr.trim(), "a node script failed");
            Ok(false)
        }
    }
}

pub(super) fn step_name(step: &Step) -> &'static str {
    match step {
        Step::ClaimInit { .. } => "claim-init",
        Step::InitSwarm { .. } => "init-swarm",
        Step::RecordSwarm { .. } => "record-swarm",
        Step::PublishTokens { .. } => "publish-tokens",
        Step::AcquireLease { .. } => "acquire-lease",
        Step::Join { .. } => "join",
        Step::RecordManager { .. } => "record-manager",
        Step::RecordJoined { .. } => "record-joined",
        Step::RecordDeparture { .. } => "record-departure",
        Step::Demote { .. } => "demote",
        Step::Drain { .. } => "drain",
        Step::Leave { .. } => "leave",
        Step::RemoveNode { .. } => "remove-node",
        Step::Forget { .. } => "forget",
        Step::Complete { .. } => "complete",
        Step::RetryLater { .. } => "retry-later",
        Step::Disregard { .. } => "disregard",
    }
}
