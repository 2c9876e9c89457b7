//! The join tokens' SecureString parameters, which the functions only ever remove.

use swarmhook::ports::{PortError, TokenVault};

use crate::error::port_error;

pub struct SsmTokenVault {
    client: aws_sdk_ssm::Client,
}

impl SsmTokenVault {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        SsmTokenVault { client }
    }
}

impl TokenVault for SsmTokenVault {
    async fn remove(&self, names: &[String]) -> Result<(), PortError> {
        if names.is_empty() {
            return Ok(());
        }
        // DeleteParameters reports names that did not exist instead of failing on them.
        let out = self
            .client
            .delete_parameters()
            .set_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| port_error("DeleteParameters", &names.join(","), e))?;
        tracing::info!(
            removed = out.deleted_parameters().len(),
            absent = out.invalid_parameters().len(),
            "removed the join token parameters"
        );
        Ok(())
    }
}
