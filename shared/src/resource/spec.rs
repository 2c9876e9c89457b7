//! The swarm's spec from the custom resource's properties. CloudFormation hands every
//! scalar property over as a string, so numbers are parsed here, with clear errors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Odd counts keep a majority through one (3), two (5) or three (7) lost managers.
pub const VALID_MANAGER_COUNTS: [u32; 4] = [1, 3, 5, 7];

/// The most workers a template may ask for (the worker group's MaxSize).
const MAX_WORKERS: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmSpec {
    pub manager_count: u32,
    pub worker_count: u32,
    /// Any change of this value rotates both join tokens.
    pub rotate_tokens: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("the resource's properties must be an object of name/value pairs")]
    NotAnObject,
    #[error("property {0} is required")]
    Missing(&'static str),
    #[error("property {name} is {value:?}: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: String,
    },
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn count(properties: &Value, name: &'static str) -> Result<u32, SpecError> {
    let raw = properties.get(name).ok_or(SpecError::Missing(name))?;
    let shown = text(raw).unwrap_or_else(|| raw.to_string());
    shown.parse::<u32>().map_err(|_| SpecError::Invalid {
        name,
        value: shown.chars().take(40).collect(),
        why: "must be a whole number".into(),
    })
}

impl SwarmSpec {
    /// Reads and checks the properties: a request that fails here changes nothing.
    pub fn from_properties(properties: &Value) -> Result<SwarmSpec, SpecError> {
        if !properties.is_object() {
            return Err(SpecError::NotAnObject);
        }
        let manager_count = count(properties, "ManagerCount")?;
        if !VALID_MANAGER_COUNTS.contains(&manager_count) {
            return Err(SpecError::Invalid {
                name: "ManagerCount",
                value: manager_count.to_string(),
                why: "must be 1, 3, 5 or 7: an odd number of managers keeps a majority".into(),
            });
        }
        let worker_count = count(properties, "WorkerCount")?;
        if worker_count > MAX_WORKERS {
            return Err(SpecError::Invalid {
                name: "WorkerCount",
                value: worker_count.to_string(),
                why: format!("must be at most {MAX_WORKERS}"),
            });
        }
        let rotate_tokens = match properties.get("RotateTokens") {
            None | Some(Value::Null) => String::new(),
            Some(v) => text(v).ok_or_else(|| SpecError::Invalid {
                name: "RotateTokens",
                value: v.to_string().chars().take(40).collect(),
                why: "must be a string; change it to rotate the join tokens".into(),
            })?,
        };
        Ok(SwarmSpec {
            manager_count,
            worker_count,
            rotate_tokens,
        })
    }

    /// Whether going from `old` to this spec asks for new join tokens.
    pub fn rotates_tokens_since(&self, old: &SwarmSpec) -> bool {
        self.rotate_tokens != old.rotate_tokens
    }
}
