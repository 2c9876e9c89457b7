//! The console function's settings, from its environment, checked at cold start.

use swarmhook_aws::{BalancerSettingError, BalancerSettings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is missing: the template sets it on the function")]
    Missing(&'static str),
    #[error("setting {name} is {value:?}: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(transparent)]
    Balancer(#[from] BalancerSettingError),
}

/// What the function is for: the same binary is the stack's read-only view and, as a
/// second function with its own role, its operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Shows the swarm; refuses every operation.
    View,
    /// Shows the operations widget and carries out its operations.
    Operate,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub cluster: String,
    pub table: String,
    pub manager_group: String,
    pub worker_group: String,
    /// How long a node may be Down while its machine runs before it is replaced (as the
    /// lifecycle function is told), to say when that will be.
    pub dead_node_seconds: u64,
    /// The stack's Network Load Balancer (None: the stack has none).
    pub load_balancer: Option<BalancerSettings>,
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let dead_node_seconds = match std::env::var("SWARMHOOK_DEAD_NODE_SECONDS") {
            Err(_) => 180,
            Ok(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "SWARMHOOK_DEAD_NODE_SECONDS",
                value: v.clone(),
                why: "must be a whole number of seconds",
            })?,
        };
        let mode = match std::env::var("SWARMHOOK_CONSOLE_MODE").as_deref() {
            Err(_) | Ok("view") => Mode::View,
            Ok("operate") => Mode::Operate,
            Ok(other) => {
                return Err(ConfigError::Invalid {
                    name: "SWARMHOOK_CONSOLE_MODE",
                    value: other.to_owned(),
                    why: "must be view or operate",
                })
            }
        };
        Ok(Config {
            mode,
            cluster: required("SWARMHOOK_CLUSTER")?,
            table: required("SWARMHOOK_TABLE")?,
            manager_group: required("SWARMHOOK_MANAGER_GROUP")?,
            worker_group: required("SWARMHOOK_WORKER_GROUP")?,
            dead_node_seconds,
            load_balancer: BalancerSettings::from_env()?,
        })
    }
}
