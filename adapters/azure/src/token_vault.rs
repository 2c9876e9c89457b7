//! The join tokens' secrets in Key Vault. The nodes write and read them with their own
//! identities; the functions only remove them, when the cluster is deleted.

use azure_core::http::Method;
use swarmhook::engine::KEY_VAULT_API_VERSION;
use swarmhook::ports::{PortError, TokenVault};

use crate::client::{Audience, AzureClient};
use crate::error::port_error;

pub struct KeyVaultTokens {
    client: AzureClient,
    /// `properties.vaultUri`, ending in `/`.
    vault_uri: String,
}

impl KeyVaultTokens {
    pub fn new(client: AzureClient, vault_uri: &str) -> Self {
        KeyVaultTokens {
            client,
            vault_uri: format!("{}/", vault_uri.trim_end_matches('/')),
        }
    }
}

impl TokenVault for KeyVaultTokens {
    async fn remove(&self, names: &[String]) -> Result<(), PortError> {
        for name in names {
            let url = format!(
                "{}secrets/{name}?api-version={KEY_VAULT_API_VERSION}",
                self.vault_uri
            );
            let answer = self
                .client
                .send(Audience::KeyVault, Method::Delete, &url, &[], None)
                .await
                .map_err(|e| port_error("deleting a join token's secret", name, e))?;
            if !(answer.ok() || answer.status == 404) {
                return Err(port_error(
                    "deleting a join token's secret",
                    name,
                    answer.unexpected(),
                ));
            }
        }
        Ok(())
    }
}
