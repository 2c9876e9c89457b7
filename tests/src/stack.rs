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

/// Where a stack's template comes from.
#[derive(Debug, Clone, Copy)]
pub enum TemplateSource<'a> {
    /// A file of the fixtures (or the lab's templates), sent as the template's body.
    Fixture(&'a str),
    /// A template published to the lab's S3, which CloudFormation reads from its URL.
    Url(&'a str),
}

impl TemplateSource<'_> {
    /// (body, URL): exactly one is set.
    fn body_and_url(self) -> (Option<String>, Option<String>) {
        match self {
            TemplateSource::Fixture(name) => (Some(template(name)), None),
            TemplateSource::Url(url) => (None, Some(url.to_owned())),
        }
    }
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
        self.create_stack_from(name, TemplateSource::Fixture(template_name), params)
            .await
    }

    /// Creates a stack from a fixture or a published template; returns its id.
    pub async fn create_stack_from(
        &self,
        name: &str,
        source: TemplateSource<'_>,
        params: &[(&str, &str)],
    ) -> Result<String, LabError> {
        let (body, url) = source.body_and_url();
        self.cloudformation()
            .create_stack()
            .stack_name(name)
            .set_template_body(body)
            .set_template_url(url)
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
        self.update_stack_from(stack_id, TemplateSource::Fixture(template_name), params)
            .await
    }

    /// Updates a stack to a fixture or a published template.
    pub async fn update_stack_from(
        &self,
        stack_id: &str,
        source: TemplateSource<'_>,
        params: &[(&str, &str)],
    ) -> Result<(), LabError> {
        let (body, url) = source.body_and_url();
        self.cloudformation()
            .update_stack()
            .stack_name(stack_id)
            .set_template_body(body)
            .set_template_url(url)
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
