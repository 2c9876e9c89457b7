//! A launch lifecycle action, handled to its end or to "not yet".

use std::time::Duration;

use crate::cluster::{ClusterView, Role};
use crate::engine::{ParseError, ScriptError, TokenStore};
use crate::plan::{next_launch_step, LaunchAction, LifecycleResult};
use crate::ports::{ActionRef, Clock, ClusterStore, Fleet, NodeEngine, PortError};
use crate::settings::ClusterSettings;

use super::drive::deliver_action;

/// Where each role's join token lives: the store, and each role's name in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParameters {
    pub store: TokenStore,
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
            store: TokenStore::Ssm,
            worker: format!("{prefix}/worker"),
            manager: format!("{prefix}/manager"),
        })
    }

    /// The two secrets of a Key Vault (`vault_uri` ending in `/`).
    pub fn in_key_vault(vault_uri: &str, worker: &str, manager: &str) -> TokenParameters {
        TokenParameters {
            store: TokenStore::KeyVault {
                vault_uri: vault_uri.to_owned(),
            },
            worker: worker.to_owned(),
            manager: manager.to_owned(),
        }
    }

    pub fn for_role(&self, role: Role) -> &str {
        match role {
            Role::Worker => &self.worker,
            Role::Manager => &self.manager,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The lifecycle action was completed with this result.
    Completed {
        result: LifecycleResult,
        reason: String,
        /// This delivery's change claimed the window for a reconcile soon after it: the
        /// trigger asks for one (`events::RECONCILE_REQUEST`, delayed by the window).
        reconcile_claimed: bool,
    },
    /// Not yet: the event must come back (not before `after_seconds`, when the delivery
    /// knows how long the wait is).
    RetryLater {
        reason: String,
        after_seconds: Option<u64>,
    },
    /// The action was no longer pending, or the instance is gone: nothing to do.
    Gone,
    /// The event claims what the cloud does not confirm: nothing was done.
    Disregarded { reason: String },
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

/// The cloud, through the brain's ports, and the trigger's clock.
pub struct Ports<'a, S, E, F, C> {
    pub store: &'a S,
    pub engine: &'a E,
    pub fleet: &'a F,
    pub clock: &'a C,
}

impl<S, E, F, C> Clone for Ports<'_, S, E, F, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S, E, F, C> Copy for Ports<'_, S, E, F, C> {}

/// Handles one delivery of a launch lifecycle action, pausing and looking again within
/// `wait` while the answer is "not yet". After every CONTINUE the stack is signalled for
/// the instance's group, even when a lost earlier delivery completed it: the stack counts
/// one signal per instance, however often it is sent.
#[tracing::instrument(skip_all, fields(instance_id = %action.instance_id, group = %action.group))]
pub async fn handle_launch<S: ClusterStore, E: NodeEngine, F: Fleet, C: Clock>(
    ports: &Ports<'_, S, E, F, C>,
    settings: &ClusterSettings,
    tokens: &TokenParameters,
    action: &ActionRef,
    seconds_left: u64,
    began_at_ms: Option<u64>,
    wait: Duration,
) -> Result<Handled, ExecuteError> {
    let began = ports.clock.now();
    let plan = |view: &ClusterView| {
        let launch = LaunchAction {
            instance_id: action.instance_id.clone(),
            seconds_left: seconds_left.saturating_sub(view.now.saturating_sub(began)),
            began_at_ms,
        };
        next_launch_step(view, &launch)
    };
    deliver_action(ports, settings, tokens, action, true, wait, plan).await
}
