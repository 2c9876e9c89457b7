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

#[derive(Debug, Clone)]
pub struct Config {
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
        Ok(Config {
            cluster: required("SWARMHOOK_CLUSTER")?,
            table: required("SWARMHOOK_TABLE")?,
            manager_group: required("SWARMHOOK_MANAGER_GROUP")?,
            worker_group: required("SWARMHOOK_WORKER_GROUP")?,
            dead_node_seconds,
            load_balancer: BalancerSettings::from_env()?,
        })
    }
}
