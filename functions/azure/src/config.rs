//! The handler's settings, from the Function app's app settings (the template sets them),
//! checked at start.

use swarmhook::execute::TokenParameters;
use swarmhook::settings::ClusterSettings;
use swarmhook::trigger::TriggerSettings;
use swarmhook_azure::arm::ArmScope;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("app setting {0} is missing: the template sets it on the Function app")]
    Missing(&'static str),
    #[error("app setting {name} is {value:?}: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: String,
    pub scope: ArmScope,
    pub location: String,
    pub blob_endpoint: String,
    pub queue_endpoint: String,
    /// The store's container: the cluster's record and the VMs' release marks.
    pub container: String,
    pub ready_queue: String,
    pub leaving_queue: String,
    pub reconcile_queue: String,
    /// The private DNS zone and the managers' record in it (None: no record).
    pub managers_record: Option<(String, String)>,
    /// The public load balancer whose rules follow the published ports (None: none).
    pub load_balancer: Option<String>,
    /// How many of each the deployment asked for: `formed` waits for them.
    pub managers: usize,
    pub workers: usize,
    pub brain: TriggerSettings,
}

fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    optional(name).ok_or(ConfigError::Missing(name))
}

fn number(name: &'static str, default: u64, min: u64) -> Result<u64, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                value: v,
                why: "must be a whole number, at least its minimum",
            }),
        },
    }
}

fn https(name: &'static str) -> Result<String, ConfigError> {
    let value = required(name)?;
    if value.starts_with("https://") {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            value,
            why: "must be an https:// endpoint (tokens are sent only over TLS)",
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let vault_uri = https("SWARMHOOK_VAULT_URI")?;
        let vault_uri = format!("{}/", vault_uri.trim_end_matches('/'));
        let tokens = TokenParameters::in_key_vault(
            &vault_uri,
            &optional("SWARMHOOK_WORKER_SECRET")
                .unwrap_or_else(|| "swarm-worker-join-token".into()),
            &optional("SWARMHOOK_MANAGER_SECRET")
                .unwrap_or_else(|| "swarm-manager-join-token".into()),
        );
        let managers_record = match (
            optional("SWARMHOOK_DNS_ZONE"),
            optional("SWARMHOOK_MANAGERS_RECORD"),
        ) {
            (Some(zone), Some(name)) => Some((zone, name)),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("SWARMHOOK_MANAGERS_RECORD")),
            (None, Some(_)) => return Err(ConfigError::Missing("SWARMHOOK_DNS_ZONE")),
        };
        Ok(Config {
            load_balancer: optional("SWARMHOOK_LOAD_BALANCER"),
            cluster: required("SWARMHOOK_CLUSTER")?,
            scope: ArmScope {
                endpoint: optional("SWARMHOOK_ARM_ENDPOINT")
                    .unwrap_or_else(|| "https://management.azure.com/".into()),
                subscription: required("SWARMHOOK_SUBSCRIPTION")?,
                resource_group: required("SWARMHOOK_RESOURCE_GROUP")?,
            },
            location: required("SWARMHOOK_LOCATION")?,
            blob_endpoint: https("SWARMHOOK_BLOB_ENDPOINT")?,
            queue_endpoint: https("SWARMHOOK_QUEUE_ENDPOINT")?,
            container: optional("SWARMHOOK_STORE_CONTAINER").unwrap_or_else(|| "swarmhook".into()),
            ready_queue: optional("SWARMHOOK_READY_QUEUE").unwrap_or_else(|| "node-ready".into()),
            leaving_queue: optional("SWARMHOOK_LEAVING_QUEUE")
                .unwrap_or_else(|| "node-leaving".into()),
            reconcile_queue: optional("SWARMHOOK_RECONCILE_QUEUE")
                .unwrap_or_else(|| "swarm-reconcile".into()),
            managers_record,
            managers: number("SWARMHOOK_MANAGERS", 1, 1)? as usize,
            workers: number("SWARMHOOK_WORKERS", 0, 0)? as usize,
            brain: TriggerSettings {
                cluster: ClusterSettings {
                    worker_join_parallelism: number("SWARMHOOK_WORKER_JOIN_PARALLELISM", 10, 1)?
                        as usize,
                    reconcile_batch: number("SWARMHOOK_RECONCILE_BATCH", 10, 1)? as usize,
                    reconcile_delay_seconds: number("SWARMHOOK_RECONCILE_DELAY_SECONDS", 20, 1)?,
                    dead_node_seconds: number("SWARMHOOK_DEAD_NODE_SECONDS", 180, 30)?,
                    ..ClusterSettings::default()
                },
                tokens,
                manager_group: required("SWARMHOOK_MANAGER_SET")?,
                worker_group: required("SWARMHOOK_WORKER_SET")?,
                // Nothing on Azure times a join out: this bounds one VM's whole join.
                hook_timeout_seconds: number("SWARMHOOK_JOIN_TIMEOUT_SECONDS", 3600, 60)?,
                retry_seconds: number("SWARMHOOK_RETRY_SECONDS", 5, 1)?,
                wait_seconds: number("SWARMHOOK_WAIT_SECONDS", 8, 0)?,
                reconcile_seconds: number("SWARMHOOK_RECONCILE_SECONDS", 60, 1)?,
            },
        })
    }
}
