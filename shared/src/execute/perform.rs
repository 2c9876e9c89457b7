//! Runs one change: a conditional write to the store, or a script on a node. Nothing
//! here decides anything; each reports what it achieved (the record it wrote, the
//! engine's state its script printed last, that the swarm changed), which the delivery
//! folds into its view for the planner's next decision.

use crate::cluster::{ClusterView, EngineState, StoreRecord};
use crate::cluster::{Departure, InitClaim, JoinLease, ManagerRecord, NodeRecord, SwarmRecord};
use crate::engine;
use crate::plan::Step;
use crate::ports::{ClusterStore, NodeEngine, Saved};

use super::launch::{ExecuteError, TokenParameters};

/// What the store holds after a step, as far as the step knows.
#[derive(Debug, Default)]
pub(super) enum StoreAfter {
    /// The step did not write.
    #[default]
    Unchanged,
    /// The store holds this record: the one the step's conditional write put there, or,
    /// when it lost, the one the store said it holds instead.
    Holds(Box<StoreRecord>),
    /// The write lost to another writer, who wrote this.
    Lost(Box<StoreRecord>),
    /// The write lost to another writer (or was not made after all): read it again.
    Stale,
}

/// What one step achieved.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub store: StoreAfter,
    /// The subject's engine as the step's script reported it last.
    pub engine: Option<EngineState>,
    /// The step changed the swarm: what was read of it no longer holds.
    pub swarm_changed: bool,
    /// The subject's engine joined (the join script says it joined, and is active).
    pub joined: bool,
    /// The step's write claimed the window for a reconcile soon after this change: the
    /// trigger sends the request.
    pub reconcile_claimed: bool,
}

/// Performs `step`, planned from `view`. Store writes are conditional on the generation
/// `view` read; a lost race is no error (the outcome says to read the store again).
/// With `claim_reconcile`, the write that records a join or a removal also claims the
/// window for a reconcile soon after it, unless one is claimed already.
pub(super) async fn perform<S: ClusterStore, E: NodeEngine>(
    store: &S,
    engine_port: &E,
    tokens: &TokenParameters,
    view: &ClusterView,
    step: Step,
    claim_reconcile: bool,
) -> Result<Outcome, ExecuteError> {
    let mut record: StoreRecord = view.store.clone();
    record.generation = view.store.generation + 1;
    let expected = view.store.generation;
    let mut outcome = Outcome::default();
    match step {
        Step::ClaimInit { instance_id, .. } => {
            record.init_claim = Some(InitClaim {
                instance_id,
                generation: record.generation,
                claimed_at: view.now,
            });
            outcome.store = save(store, record, expected).await?;
        }
        Step::InitSwarm {
            instance_id,
            advertise_address,
        } => {
            let script = engine::init_swarm(&advertise_address)?;
            outcome.engine = Some(run_and_report(engine_port, &instance_id, &script).await?);
            outcome.swarm_changed = true;
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
                outcome.store = save(store, record, expected).await?;
            } else {
                outcome.store = StoreAfter::Stale;
            }
        }
        Step::PublishTokens { instance_id, .. } => {
            let script = engine::publish_tokens(&tokens.store, &tokens.worker, &tokens.manager)?;
            if run(engine_port, &instance_id, &script).await? {
                if let Some(swarm) = record.swarm.as_mut() {
                    swarm.tokens_published = true;
                }
                outcome.store = save(store, record, expected).await?;
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
            outcome.store = save(store, record, expected).await?;
        }
        Step::Join {
            instance_id,
            role,
            managers,
        } => {
            let script = engine::join_swarm(&tokens.store, role, tokens.for_role(role), &managers)?;
            let out = engine_port.run(&instance_id, &script).await?;
            if let Some(out) = &out {
                match engine::parse_join_millis(&out.stdout) {
                    Some(raw_join_ms) => tracing::info!(raw_join_ms, "the engine joined"),
                    None if out.exit_code != 0 => {
                        tracing::warn!(exit_code = out.exit_code, stderr = %out.stderr.trim(), "the join failed")
                    }
                    None => {}
                }
            }
            let joined_ms = out
                .as_ref()
                .and_then(|o| engine::parse_join_millis(&o.stdout));
            let reported = match out {
                None => EngineState::Unreachable,
                Some(out) => engine::parse_engine_report(&out.stdout)?,
            };
            outcome.joined = joined_ms.is_some() && matches!(reported, EngineState::Active { .. });
            outcome.engine = Some(reported);
            outcome.swarm_changed = true;
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
            outcome.store = save(store, record, expected).await?;
        }
        Step::RecordJoined {
            instance_id,
            node_id,
            role,
            boot_ms,
            ..
        } => {
            if boot_ms.is_some() {
                record.boot_ms = boot_ms;
            }
            record.leases.retain(|l| l.instance_id != instance_id);
            record.nodes.retain(|n| n.instance_id != instance_id);
            record.nodes.push(NodeRecord {
                instance_id,
                node_id,
                role,
            });
            outcome.reconcile_claimed = claim_reconcile && claim_window(&mut record, view);
            outcome.store = save(store, record, expected).await?;
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
                outcome.store = save(store, record, expected).await?;
            } else {
                outcome.store = StoreAfter::Stale;
            }
        }
        Step::Demote { via, node_id } => {
            run(engine_port, &via, &engine::demote_node(&node_id)?).await?;
            outcome.swarm_changed = true;
        }
        Step::Drain { via, node_id } => {
            run(engine_port, &via, &engine::drain_node(&node_id)?).await?;
            outcome.swarm_changed = true;
        }
        Step::Leave { instance_id } => {
            let script = engine::leave_swarm();
            outcome.engine = Some(run_and_report(engine_port, &instance_id, &script).await?);
            outcome.swarm_changed = true;
        }
        Step::RemoveNode { via, node_id } => {
            run(engine_port, &via, &engine::remove_node(&node_id)?).await?;
            outcome.swarm_changed = true;
        }
        Step::Forget { instance_id, .. } => {
            record.departures.retain(|d| d.instance_id != instance_id);
            record.managers.retain(|m| m.instance_id != instance_id);
            record.leases.retain(|l| l.instance_id != instance_id);
            record.nodes.retain(|n| n.instance_id != instance_id);
            outcome.reconcile_claimed = claim_reconcile && claim_window(&mut record, view);
            outcome.store = save(store, record, expected).await?;
        }
        // Observations and terminal steps are the delivery's own.
        Step::ObserveEngine { .. }
        | Step::ObserveSwarm { .. }
        | Step::Complete { .. }
        | Step::RetryLater { .. }
        | Step::Disregard { .. } => {}
    }
    if matches!(outcome.store, StoreAfter::Stale | StoreAfter::Lost(_)) {
        outcome.reconcile_claimed = false;
    }
    Ok(outcome)
}

/// Claims `[now, now + reconcile_delay_seconds)` for one reconcile soon after this
/// change, unless a claim made earlier in the window covers it: a hundred changes at
/// once still cost a handful of runs, and the claim rides on the write that records the
/// change (no store call of its own).
fn claim_window(record: &mut StoreRecord, view: &ClusterView) -> bool {
    if (record.reconcile_requested_until).is_some_and(|until| until > view.now) {
        return false;
    }
    let window = view.settings.reconcile_delay_seconds.max(1);
    record.reconcile_requested_until = Some(view.now + window);
    true
}

async fn save<S: ClusterStore>(
    store: &S,
    record: StoreRecord,
    expected: u64,
) -> Result<StoreAfter, ExecuteError> {
    match store.save(&record, expected).await? {
        Saved::Written => Ok(StoreAfter::Holds(Box::new(record))),
        Saved::Lost {
            current: Some(current),
        } => {
            tracing::info!(
                expected,
                now = current.generation,
                "lost a write race; the store said what it holds"
            );
            Ok(StoreAfter::Lost(current))
        }
        Saved::Lost { current: None } => {
            tracing::info!(expected, "lost a write race; reading the store again");
            Ok(StoreAfter::Stale)
        }
    }
}

/// Runs a changing script that reports the engine last (init, join, leave); the engine's
/// state it printed (Unreachable when the node could not take the command). A failure
/// is logged; the report says what it meant.
async fn run_and_report<E: NodeEngine>(
    engine_port: &E,
    instance_id: &str,
    script: &str,
) -> Result<EngineState, ExecuteError> {
    let Some(out) = engine_port.run(instance_id, script).await? else {
        return Ok(EngineState::Unreachable);
    };
    if out.exit_code != 0 {
        let first_line = script.lines().next().unwrap_or_default();
        tracing::warn!(exit_code = out.exit_code, script = first_line, stderr = %out.stderr.trim(), "a node script failed");
    }
    Ok(engine::parse_engine_report(&out.stdout)?)
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
        Step::ObserveEngine { .. } => "observe-engine",
        Step::ObserveSwarm { .. } => "observe-swarm",
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
