//! The Azure lab's management plane (ARM) and Key Vault, as a test calls them: raw
//! requests with a bearer token, answered with status, headers and JSON body, and a
//! template deployment followed to its end through its `Azure-AsyncOperation` URL.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::azure::AzureLab;
use crate::wait::until;
use crate::LabError;

/// ARM's resources API version for deployments and resource groups.
pub const RESOURCES_VERSION: &str = "2024-03-01";
/// The Network provider's API version.
pub const NETWORK_VERSION: &str = "2025-05-01";
/// Private DNS's API version.
pub const PRIVATE_DNS_VERSION: &str = "2024-06-01";
/// Compute's API version.
pub const COMPUTE_VERSION: &str = "2025-04-01";
/// Key Vault's data-plane API version.
pub const KEY_VAULT_VERSION: &str = "7.5";

/// One answer: status, headers and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.code` of an ARM or Key Vault error body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl AzureLab {
    /// `/subscriptions/{the lab's}/resourceGroups/{group}`.
    pub fn group_path(&self, group: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{group}",
            self.info.subscription_id
        )
    }

    /// A request to `base` + `path` (which carries its own query), with a bearer token
    /// when one is given, extra headers, and a JSON body.
    pub async fn call(
        &self,
        base: &str,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, LabError> {
        let url = if path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{base}{path}")
        };
        let mut req = self.https.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.map_err(LabError::Status)?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.map_err(LabError::Status)?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| LabError::Unexpected(format!("{status}: not JSON ({e}): {text}")))?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A call to the management endpoint.
    pub async fn arm(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, LabError> {
        let base = self.info.management_endpoint.clone();
        self.call(&base, token, method, path, body, headers).await
    }

    /// A call to Key Vault's data plane: `{vault URI}secrets/{name}?api-version=…`.
    pub async fn secret(
        &self,
        token: &str,
        vault_uri: &str,
        method: Method,
        name: &str,
        body: Option<&Value>,
    ) -> Result<Answer, LabError> {
        let url = format!("{vault_uri}secrets/{name}?api-version={KEY_VAULT_VERSION}");
        self.call("", Some(token), method, &url, body, &[]).await
    }

    /// Creates (or finds) a resource group.
    pub async fn resource_group(&self, token: &str, group: &str) -> Result<(), LabError> {
        let path = format!("{}?api-version={RESOURCES_VERSION}", self.group_path(group));
        let body = serde_json::json!({ "location": self.info.location });
        let a = self
            .arm(Some(token), Method::PUT, &path, Some(&body), &[])
            .await?;
        if a.status != 200 && a.status != 201 {
            return Err(LabError::Unexpected(format!(
                "creating resource group {group}: {} {}",
                a.status, a.body
            )));
        }
        Ok(())
    }

    /// PUTs a deployment; returns the PUT's answer (201 with `Azure-AsyncOperation`, or
    /// ARM's refusal).
    pub async fn start_deployment(
        &self,
        token: &str,
        group: &str,
        name: &str,
        template: &Value,
        parameters: &Value,
    ) -> Result<Answer, LabError> {
        let path = format!(
            "{}/providers/Microsoft.Resources/deployments/{name}?api-version={RESOURCES_VERSION}",
            self.group_path(group)
        );
        let body = serde_json::json!({
            "properties": { "mode": "Incremental", "template": template, "parameters": parameters }
        });
        self.arm(Some(token), Method::PUT, &path, Some(&body), &[])
            .await
    }

    /// Follows an `Azure-AsyncOperation` URL until its status is final; the last status body.
    pub async fn wait_async(&self, token: &str, url: &str) -> Result<Value, LabError> {
        until(
            &format!("the async operation {url}"),
            Duration::from_secs(120),
            || async {
                let a = self.arm(Some(token), Method::GET, url, None, &[]).await?;
                let status = a.body["status"].as_str().unwrap_or_default();
                let done = matches!(status, "Succeeded" | "Failed" | "Canceled");
                let seen = format!("{} {}", a.status, a.body);
                Ok((done.then_some(a.body), seen))
            },
        )
        .await
    }

    /// Runs a script on a VM by managed Run Command (PUT, its async operation followed to
    /// the end); the command's `instanceView`.
    pub async fn run_command(
        &self,
        token: &str,
        vm_id: &str,
        script: &str,
        parameters: &[(&str, &str)],
    ) -> Result<Value, LabError> {
        let name = crate::unique_name("cmd");
        let path = format!("{vm_id}/runCommands/{name}?api-version={COMPUTE_VERSION}");
        let params: Vec<Value> = parameters
            .iter()
            .map(|(k, v)| serde_json::json!({ "name": k, "value": v }))
            .collect();
        let body = serde_json::json!({
            "location": self.info.location,
            "properties": { "source": { "script": script }, "parameters": params, "timeoutInSeconds": 120 }
        });
        let put = self
            .arm(Some(token), Method::PUT, &path, Some(&body), &[])
            .await?;
        if put.status != 201 {
            return Err(LabError::Unexpected(format!(
                "run command on {vm_id}: {} {}",
                put.status, put.body
            )));
        }
        let url = put
            .header("azure-asyncoperation")
            .ok_or_else(|| {
                LabError::Unexpected("a run command without Azure-AsyncOperation".into())
            })?
            .to_owned();
        self.wait_async(token, &url).await?;
        let got = self
            .arm(
                Some(token),
                Method::GET,
                &format!(
                    "{vm_id}/runCommands/{name}?api-version={COMPUTE_VERSION}&$expand=instanceView"
                ),
                None,
                &[],
            )
            .await?;
        if got.status != 200 {
            return Err(LabError::Unexpected(format!(
                "reading run command {name} on {vm_id}: {} {}",
                got.status, got.body
            )));
        }
        Ok(got.body["properties"]["instanceView"].clone())
    }

    /// A lab control: the VM is lost without notice.
    pub async fn lose_vm(&self, vm_id: &str) -> Result<(), LabError> {
        let r = self
            .http
            .post(format!("{}/_lab/azure/lose-vm", self.lab_endpoint))
            .json(&serde_json::json!({ "vm": vm_id }))
            .send()
            .await
            .map_err(LabError::Status)?;
        if !r.status().is_success() {
            return Err(LabError::Unexpected(format!(
                "lose {vm_id}: {}",
                r.status()
            )));
        }
        Ok(())
    }

    /// Asks the lab to refuse the next `count` calls of `operation` with 429.
    pub async fn throttle(
        &self,
        operation: &str,
        count: u32,
        retry_after: u32,
    ) -> Result<(), LabError> {
        let r = self
            .http
            .post(format!("{}/_lab/azure/throttle", self.lab_endpoint))
            .json(&serde_json::json!({ "operation": operation, "count": count, "retry_after": retry_after }))
            .send()
            .await
            .map_err(LabError::Status)?;
        if !r.status().is_success() {
            let status = r.status();
            return Err(LabError::Unexpected(format!(
                "throttle {operation}: {status} {}",
                r.text().await.unwrap_or_default()
            )));
        }
        Ok(())
    }
}
