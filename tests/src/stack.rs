//! Stacks from the templates in `tests/fixtures/templates`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, Parameter};

use crate::{wait, Lab, LabError};

/// A template from the tests' fixtures, or else from the lab's own templates.
pub fn template(name: &str) -> String {
    let fixture = format!("{}/fixtures/templates/{name}", env!("CARGO_MANIFEST_DIR"));
    let lab = format!(
        "{}/../infra/lab/templates/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let path = if std::path::Path::new(&fixture).exists() {
        fixture
    } else {
        lab
    };
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("template {path}: {e}"))
}

fn parameters(params: &[(&str, &str)]) -> Vec<Parameter> {
    params
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build()
        })
        .collect()
}

impl Lab {
    /// Creates a stack and returns its id (not waiting for it).
    pub async fn create_stack(
        &self,
        name: &str,
        template_name: &str,
        params: &[(&str, &str)],
    ) -> Result<String, LabError> {
        self.cloudformation()
            .create_stack()
            .stack_name(name)
            .template_body(template(template_name))
            .set_parameters(Some(parameters(params)))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .map_err(|e| LabError::aws("CreateStack", e))?
            .stack_id()
            .map(str::to_owned)
            .ok_or_else(|| LabError::Unexpected("CreateStack returned no stack id".into()))
    }

    pub async fn update_stack(
        &self,
        stack_id: &str,
        template_name: &str,
        params: &[(&str, &str)],
    ) -> Result<(), LabError> {
        self.cloudformation()
            .update_stack()
            .stack_name(stack_id)
            .template_body(template(template_name))
            .set_parameters(Some(parameters(params)))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .map_err(|e| LabError::aws("UpdateStack", e))?;
        Ok(())
    }

    pub async fn delete_stack(&self, stack_id: &str) -> Result<(), LabError> {
        self.cloudformation()
            .delete_stack()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| LabError::aws("DeleteStack", e))?;
        Ok(())
    }

    /// Deletes the stack and waits for it to settle: an error with the stack's event
    /// reasons unless it ends DELETE_COMPLETE.
    pub async fn delete_stack_completely(&self, stack_id: &str) -> Result<(), LabError> {
        self.delete_stack(stack_id).await?;
        let status = self.settled_status(stack_id).await?;
        if status == "DELETE_COMPLETE" {
            return Ok(());
        }
        let reasons = self.stack_event_reasons(stack_id).await?;
        Err(LabError::Unexpected(format!(
            "stack {stack_id} ended {status}, not DELETE_COMPLETE: {reasons:?}"
        )))
    }

    /// The stack's status now.
    pub async fn stack_status(&self, stack_id: &str) -> Result<String, LabError> {
        let out = self
            .cloudformation()
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| LabError::aws("DescribeStacks", e))?;
        Ok(out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default())
    }

    /// Waits until the stack is no longer `*_IN_PROGRESS` and returns its status.
    pub async fn settled_status(&self, stack_id: &str) -> Result<String, LabError> {
        wait::until(
            &format!("stack {stack_id} to settle"),
            Duration::from_secs(300),
            || async {
                let status = self.stack_status(stack_id).await?;
                let settled = !status.ends_with("IN_PROGRESS") && !status.is_empty();
                Ok((settled.then(|| status.clone()), status))
            },
        )
        .await
    }

    pub async fn stack_outputs(&self, stack_id: &str) -> Result<HashMap<String, String>, LabError> {
        let out = self
            .cloudformation()
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| LabError::aws("DescribeStacks", e))?;
        Ok(out
            .stacks()
            .first()
            .map(|s| {
                s.outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The reasons the stack's events give, newest first.
    pub async fn stack_event_reasons(&self, stack_id: &str) -> Result<Vec<String>, LabError> {
        let out = self
            .cloudformation()
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| LabError::aws("DescribeStackEvents", e))?;
        Ok(out
            .stack_events()
            .iter()
            .filter_map(|e| e.resource_status_reason().map(str::to_owned))
            .collect())
    }
}
