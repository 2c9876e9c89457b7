//! The swarm resource function's settings, from its environment, checked at cold start.

use swarmhook::execute::TokenParameters;
use swarmhook_aws::{BalancerSettingError, BalancerSettings, RecordSettingMissing, RecordSettings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is missing: the template sets it on the function")]
    Missing(&'static str),
    #[error("setting SWARMHOOK_TOKEN_PREFIX is {0:?}: a parameter path starts with /")]
    TokenPrefix(String),
    #[error(transparent)]
    Balancer(#[from] BalancerSettingError),
    #[error(transparent)]
    Record(#[from] RecordSettingMissing),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: String,
    pub table: String,
    pub tokens: TokenParameters,
    /// The stack's Network Load Balancer (None: the stack has none).
    pub load_balancer: Option<BalancerSettings>,
    /// The managers' DNS record (None: the stack has none).
    pub managers_record: Option<RecordSettings>,
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let prefix = required("SWARMHOOK_TOKEN_PREFIX")?;
        Ok(Config {
            cluster: required("SWARMHOOK_CLUSTER")?,
            table: required("SWARMHOOK_TABLE")?,
            tokens: TokenParameters::under(&prefix).ok_or(ConfigError::TokenPrefix(prefix))?,
            load_balancer: BalancerSettings::from_env()?,
            managers_record: RecordSettings::from_env()?,
        })
    }

    /// The resource's PhysicalResourceId: one per cluster, never changed by an update (a
    /// new id would make CloudFormation delete the old resource, and the swarm with it).
    pub fn physical_id(&self) -> String {
        format!("swarmhook-{}", self.cluster)
    }
}
