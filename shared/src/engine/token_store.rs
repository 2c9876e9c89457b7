//! Where a node reads and writes the join tokens, with its own identity: SSM SecureString
//! parameters (AWS) or Key Vault secrets (Azure). Each renders the shell lines a script
//! runs on the node; the token travels in shell variables, pipes and files only root can
//! read, never in a command's arguments or output.

use super::scripts::{safe, ScriptError};

/// The audience of a Key Vault token, URL-encoded for IMDS's query.
const VAULT_AUDIENCE: &str = "https%3A%2F%2Fvault.azure.net";
/// Key Vault's data-plane API version.
pub const KEY_VAULT_API_VERSION: &str = "7.5";
/// Where a VM asks for its identity's tokens (Azure's Instance Metadata Service).
pub const IMDS_ADDRESS: &str = "169.254.169.254";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStore {
    /// SSM parameters, named by path; the node's instance profile reads and writes them.
    Ssm,
    /// Secrets of one Key Vault (`vault_uri` as its `properties.vaultUri` says, ending
    /// in `/`); the VM's user-assigned identity reads them, a manager's also writes them.
    KeyVault { vault_uri: String },
}

impl TokenStore {
    /// Checks a token's name as this store names things.
    pub(super) fn name<'a>(&self, name: &'a str) -> Result<&'a str, ScriptError> {
        match self {
            TokenStore::Ssm => safe("parameter name", name, &['/', '_']),
            TokenStore::KeyVault { .. } => {
                let ok = name.len() <= 127 && !name.contains('.');
                safe("secret name", name, &[]).and_then(|n| {
                    ok.then_some(n).ok_or_else(|| ScriptError::Unsafe {
                        what: "secret name",
                        value: name.to_owned(),
                    })
                })
            }
        }
    }

    fn vault(vault_uri: &str) -> Result<&str, ScriptError> {
        let rest = vault_uri.strip_prefix("https://");
        let ok = rest.is_some_and(|r| {
            !r.is_empty()
                && r.ends_with('/')
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:/".contains(c))
        });
        if ok && vault_uri.len() <= 255 {
            Ok(vault_uri)
        } else {
            Err(ScriptError::Unsafe {
                what: "vault URI",
                value: vault_uri.to_owned(),
            })
        }
    }

    /// Shell functions the lines below use (none for SSM).
    pub(super) fn prelude(&self) -> Result<String, ScriptError> {
        match self {
            TokenStore::Ssm => Ok(String::new()),
            TokenStore::KeyVault { vault_uri } => {
                Self::vault(vault_uri)?;
                // The bearer token goes into a header file only root can read: curl reads
                // it from there, so it is in no process's arguments.
                Ok(format!(
                    "kv_auth() {{\n  auth=$(mktemp) || return 1\n  curl -sf -H Metadata:true 'http://{IMDS_ADDRESS}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={VAULT_AUDIENCE}' \\\n    | sed -n 's/.*\"access_token\" *: *\"\\([^\"]*\\)\".*/Authorization: Bearer \\1/p' > \"$auth\"\n  [ -s \"$auth\" ] || {{ rm -f \"$auth\"; echo 'no Key Vault token from the VM identity' >&2; return 1; }}\n}}\n"
                ))
            }
        }
    }

    /// Inside a shell function: `token=…` from the store, or `return 3`.
    pub(super) fn read_line(&self, name: &str) -> Result<String, ScriptError> {
        let name = self.name(name)?;
        Ok(match self {
            TokenStore::Ssm => format!(
                "  token=$(aws ssm get-parameter --name '{name}' --with-decryption --query Parameter.Value --output text) || return 3\n"
            ),
            TokenStore::KeyVault { vault_uri } => {
                let vault = Self::vault(vault_uri)?;
                format!(
                    "  kv_auth || return 3\n  token=$(curl -sf -H @\"$auth\" '{vault}secrets/{name}?api-version={KEY_VAULT_API_VERSION}' | sed -n 's/.*\"value\" *: *\"\\([^\"]*\\)\".*/\\1/p'); rm -f \"$auth\"\n  [ -n \"$token\" ] || return 3\n"
                )
            }
        })
    }

    /// With `$token` set and `$request` a file only root can read: writes the token to
    /// its name, or `exit 5`.
    pub(super) fn write_lines(&self, name: &str) -> Result<String, ScriptError> {
        let name = self.name(name)?;
        Ok(match self {
            TokenStore::Ssm => format!(
                "printf '{{\"Name\":\"%s\",\"Type\":\"SecureString\",\"Overwrite\":true,\"Value\":\"%s\"}}' '{name}' \"$token\" > \"$request\" || exit 5\n\
                 aws ssm put-parameter --cli-input-json \"file://$request\" >/dev/null || exit 5\n"
            ),
            TokenStore::KeyVault { vault_uri } => {
                let vault = Self::vault(vault_uri)?;
                format!(
                    "printf '{{\"value\":\"%s\",\"contentType\":\"swarm join token\"}}' \"$token\" > \"$request\" || exit 5\n\
                     kv_auth || exit 5\n\
                     curl -sf -o /dev/null -X PUT -H @\"$auth\" -H 'Content-Type: application/json' --data-binary @\"$request\" '{vault}secrets/{name}?api-version={KEY_VAULT_API_VERSION}'; put=$?; rm -f \"$auth\"\n\
                     [ $put = 0 ] || {{ echo \"writing the secret {name} failed (curl $put)\" >&2; exit 5; }}\n"
                )
            }
        })
    }
}
