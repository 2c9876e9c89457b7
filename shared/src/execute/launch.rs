//! A launch lifecycle action, handled to its end or to "not yet".

use crate::cluster::{InitClaim, JoinLease, ManagerRecord, Role, SwarmRecord};
use crate::engine::{self, ParseError, ScriptError};
use crate::plan::{next_launch_step, LaunchAction, LifecycleResult, Step};
use crate::ports::{
    ActionOutcome, ActionRef, ClusterStore, Fleet, NodeEngine, PortError, WriteOutcome,
};
use crate::settings::ClusterSettings;

use super::observe::observe;

/// Where each role's join token lives (its parameter name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParameters {
    pub worker: String,
    pub manager: String,
}

impl TokenParameters {
    /// The two parameters under a path (`<prefix>/worker`, `<prefix>/manager`); None
    /// unless the path is absolute.
    pub fn under(prefix: &str) -> Option<TokenParameters> {
        let prefix = prefix.trim().trim_end_matches('/');
        if !prefix.starts_with('/') {
            return None;
        }
        Some(TokenParameters {
            worker: format!("{prefix}/worker"),
            manager: format!("{prefix}/manager"),
        })
    }

    pub fn for_role(&self, role: Role) -> &str {
        match role {
            Role::Worker => &self.worker,
            Role::Manager => &self.manager,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchOutcome {
    /// The lifecycle action was completed with this result.
    Completed {
        result: LifecycleResult,
        reason: String,
    },
    /// Not yet: the event must come back.
    RetryLater { reason: String },
    /// The action was no longer pending, or the instance is gone: nothing to do.
    Gone,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("reading a node's output")]
    Parse(#[from] ParseError),
    #[error("building a node script")]
    Script(#[from] ScriptError),
    #[error("could not {what}: {attempts} conditional writes in a row lost to other writers")]
    Contended { what: &'static str, attempts: usize },
    #[error("none of the {tried} recorded managers could {what}")]
    NoManager { what: &'static str, tried: usize },
}

impl ExecuteError {
    /// Whether the same event may succeed when delivered again.
    pub fn is_retryable(&self) -> bool {
        match self {
            ExecuteError::Port(e) => e.retryable,
            // A node printing something unexpected may be mid-change; try again later.
            ExecuteError::Parse(_) => true,
            ExecuteError::Script(_) => false,
            // Managers may be restarting; a later attempt may find one.
            ExecuteError::NoManager { .. } => true,
            ExecuteError::Contended { .. } => true,
        }
    }
}

/// The cloud, through the brain's ports.
pub struct Ports<'a, S, E, F> {
    pub store: &'a S,
    pub engine: &'a E,
    pub fleet: &'a F,
}

impl<S, E, F> Clone for Ports<'_, S, E, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S, E, F> Copy for Ports<'_, S, E, F> {}

/// Enough steps for the longest path (claim, init, record, publish, lease, join,
/// record, release, complete) with room for lost races.
const MAX_STEPS: usize = 16;

/// Handles one delivery of a launch lifecycle action.
#[tracing::instrument(skip_all, fields(instance_id = %action.instance_id, group = %action.group))]
pub async fn handle_launch<S: ClusterStore, E: NodeEngine, F: Fleet>(
    ports: &Ports<'_, S, E, F>,
    settings: &ClusterSettings,
    tokens: &TokenParameters,
    action: &ActionRef,
    seconds_left: u64,
    now: impl Fn() -> u64,
) -> Result<LaunchOutcome, ExecuteError> {
    let Ports {
        store,
        engine: engine_port,
        fleet,
    } = *ports;
    let Some(facts) = fleet.describe(&action.instance_id).await? else {
        tracing::info!("the instance is gone");
        return Ok(LaunchOutcome::Gone);
    };
    let launch = LaunchAction {
        instance_id: action.instance_id.clone(),
        seconds_left,
    };
    for _ in 0..MAX_STEPS {
        let view = observe(
            store,
            engine_port,
            settings,
            &action.instance_id,
            &facts,
            now(),
        )
        .await?;
        let step = next_launch_step(&view, &launch);
        tracing::info!(step = step_name(&step), "next step");
        let mut record = view.store.clone();
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
            Step::ReleaseLease { instance_id, .. } => {
                record.leases.retain(|l| l.instance_id != instance_id);
                save(store, &record, expected).await?;
            }
            Step::Complete { result, reason } => {
                tracing::info!(?result, %reason, "completing the lifecycle action");
                let outcome = fleet.complete(action, result).await?;
                // Signalled after every CONTINUE, even one a lost earlier delivery made:
                // the stack counts one signal per instance, however often it is sent.
                if let (LifecycleResult::Continue, Some(role)) = (result, facts.role) {
                    fleet.signal_ready(&action.instance_id, role).await?;
                }
                return Ok(match outcome {
                    ActionOutcome::Done => LaunchOutcome::Completed { result, reason },
                    ActionOutcome::NotPending => LaunchOutcome::Gone,
                });
            }
            Step::RetryLater { reason, heartbeat } => {
                if heartbeat && fleet.heartbeat(action).await? == ActionOutcome::NotPending {
                    return Ok(LaunchOutcome::Gone);
                }
                tracing::info!(%reason, heartbeat, "not yet");
                return Ok(LaunchOutcome::RetryLater { reason });
            }
        }
    }
    Ok(LaunchOutcome::RetryLater {
        reason: format!("no end after {MAX_STEPS} steps; continuing on the next delivery"),
    })
}

pub(super) async fn save<S: ClusterStore>(
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

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::ClaimInit { .. } => "claim-init",
        Step::InitSwarm { .. } => "init-swarm",
        Step::RecordSwarm { .. } => "record-swarm",
        Step::PublishTokens { .. } => "publish-tokens",
        Step::AcquireLease { .. } => "acquire-lease",
        Step::Join { .. } => "join",
        Step::RecordManager { .. } => "record-manager",
        Step::ReleaseLease { .. } => "release-lease",
        Step::Complete { .. } => "complete",
        Step::RetryLater { .. } => "retry-later",
    }
}
