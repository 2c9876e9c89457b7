//! The lifecycle function's settings, from its environment, checked at cold start.

use swarmhook::execute::TokenParameters;
use swarmhook::settings::ClusterSettings;
use swarmhook::trigger::TriggerSettings;
use swarmhook_aws::{BalancerSettingError, BalancerSettings, RecordSettingMissing, RecordSettings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is missing: the template sets it on the function")]
    Missing(&'static str),
    #[error(transparent)]
    Balancer(#[from] BalancerSettingError),
    #[error(transparent)]
    Record(#[from] RecordSettingMissing),
    #[error("setting {name} is {value:?}: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: String,
    pub table: String,
    /// How the brain runs: the groups, the tokens' parameters, the waits.
    pub brain: TriggerSettings,
    /// The stack whose groups wait for a signal per instance (their creation policy);
    /// None when nothing waits (no signals are sent).
    pub stack: Option<String>,
    /// The lifecycle queue: "not yet" shortens a message's visibility, and a reconcile
    /// request goes there.
    pub queue_url: String,
    /// The stack's Network Load Balancer (None: no balancing).
    pub load_balancer: Option<BalancerSettings>,
    /// The managers' DNS record (None: the stack has none).
    pub managers_record: Option<RecordSettings>,
    /// Where a message that cannot be handled goes at once (None: the queue's redrive
    /// moves it after its receives run out).
    pub dead_letter_url: Option<String>,
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

fn number(name: &'static str, default: u64, min: u64) -> Result<u64, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                value: v,
                why:
                    "must be a whole number, at least its minimum (1 for a count, 30 for a timeout)",
            }),
        },
    }
}

/// The longest delay SQS gives a message.
const SQS_MAX_DELAY_SECONDS: u64 = 900;

/// A delay for an SQS message: at least 1 second, at most SQS's longest.
fn delay_seconds(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    let value = number(name, default, 1)?;
    if value <= SQS_MAX_DELAY_SECONDS {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            value: value.to_string(),
            why: "must be at most 900 (the longest delay SQS allows)",
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let prefix = required("SWARMHOOK_TOKEN_PREFIX")?;
        let tokens = TokenParameters::under(&prefix).ok_or(ConfigError::Invalid {
            name: "SWARMHOOK_TOKEN_PREFIX",
            value: prefix,
            why: "a parameter path starts with /",
        })?;
        Ok(Config {
            cluster: required("SWARMHOOK_CLUSTER")?,
            table: required("SWARMHOOK_TABLE")?,
            brain: TriggerSettings {
                cluster: ClusterSettings {
                    worker_join_parallelism: number("SWARMHOOK_WORKER_JOIN_PARALLELISM", 10, 1)?
                        as usize,
                    reconcile_batch: number("SWARMHOOK_RECONCILE_BATCH", 10, 1)? as usize,
                    // At most 900: SQS's longest delay.
                    reconcile_delay_seconds: delay_seconds(
                        "SWARMHOOK_RECONCILE_DELAY_SECONDS",
                        20,
                    )?,
                    dead_node_seconds: number("SWARMHOOK_DEAD_NODE_SECONDS", 180, 30)?,
                    ..ClusterSettings::default()
                },
                tokens,
                manager_group: required("SWARMHOOK_MANAGER_GROUP")?,
                worker_group: required("SWARMHOOK_WORKER_GROUP")?,
                hook_timeout_seconds: number("SWARMHOOK_HOOK_TIMEOUT_SECONDS", 600, 30)?,
                retry_seconds: number("SWARMHOOK_RETRY_SECONDS", 10, 1)?,
                wait_seconds: number("SWARMHOOK_WAIT_SECONDS", 8, 0)?,
                reconcile_seconds: number("SWARMHOOK_RECONCILE_SECONDS", 60, 1)?,
            },
            stack: std::env::var("SWARMHOOK_STACK")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            queue_url: required("SWARMHOOK_QUEUE_URL")?,
            load_balancer: BalancerSettings::from_env()?,
            managers_record: RecordSettings::from_env()?,
            dead_letter_url: std::env::var("SWARMHOOK_DEAD_LETTER_URL")
                .ok()
                .filter(|v| !v.trim().is_empty()),
        })
    }
}
