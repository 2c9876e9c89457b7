//! The Azure lab's Functions host, as a test drives it: an app started from a package
//! (the tests' app, `fixtures/azure-test-app`, whose handler records every invocation
//! as a JSON line), its timers fired on demand, the invocations read back.

use std::path::PathBuf;

use serde_json::Value;

use crate::azure::AzureLab;
use crate::LabError;

/// A started app: its name, and where its handler records what it was sent.
pub struct TestApp {
    pub name: String,
    pub record: PathBuf,
}

impl TestApp {
    /// The invocations the handler has seen, oldest first.
    pub fn invocations(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The invocations of one function.
    pub fn invocations_of(&self, function: &str) -> Vec<Value> {
        let path = format!("/{function}");
        self.invocations()
            .into_iter()
            .filter(|i| i["path"] == path.as_str())
            .collect()
    }
}

impl AzureLab {
    /// Starts the tests' app under `name`, with app settings.
    pub async fn start_test_app(
        &self,
        name: &str,
        settings: &[(&str, &str)],
    ) -> Result<TestApp, LabError> {
        let record = std::env::temp_dir().join(format!("{name}.invocations"));
        let _ = std::fs::remove_file(&record);
        let mut all: serde_json::Map<String, Value> = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        all.insert(
            "LAB_HANDLER_RECORD".into(),
            Value::from(record.display().to_string()),
        );
        let package = format!("{}/fixtures/azure-test-app", env!("CARGO_MANIFEST_DIR"));
        let r = self
            .http
            .post(format!("{}/_lab/azure/function-apps", self.lab_endpoint))
            .json(&serde_json::json!({ "name": name, "package": package, "settings": all }))
            .send()
            .await
            .map_err(LabError::Status)?;
        let status = r.status();
        let text = r.text().await.map_err(LabError::Status)?;
        if !status.is_success() {
            return Err(LabError::Unexpected(format!(
                "starting app {name}: {status} {text}"
            )));
        }
        Ok(TestApp {
            name: name.to_owned(),
            record,
        })
    }

    /// Starts an app from a package folder (or zip), as `identity` (`{group}.{name}` of a
    /// user-assigned identity), with app settings.
    pub async fn start_app(
        &self,
        name: &str,
        package: &std::path::Path,
        identity: &str,
        settings: &serde_json::Map<String, Value>,
    ) -> Result<(), LabError> {
        let r = self
            .http
            .post(format!("{}/_lab/azure/function-apps", self.lab_endpoint))
            .json(&serde_json::json!({
                "name": name, "package": package.display().to_string(),
                "identity": identity, "settings": settings,
            }))
            .send()
            .await
            .map_err(LabError::Status)?;
        let status = r.status();
        let text = r.text().await.map_err(LabError::Status)?;
        if !status.is_success() {
            return Err(LabError::Unexpected(format!(
                "starting app {name}: {status} {text}"
            )));
        }
        Ok(())
    }

    /// Fires the app's timers now; the functions fired.
    pub async fn fire_timers(&self, app: &str) -> Result<Vec<String>, LabError> {
        let r = self
            .http
            .post(format!("{}/_lab/azure/fire-timers", self.lab_endpoint))
            .json(&serde_json::json!({ "app": app }))
            .send()
            .await
            .map_err(LabError::Status)?;
        let v: Value = r.json().await.map_err(LabError::Status)?;
        Ok(v["fired"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// What the lab says of its function apps.
    pub async fn function_apps(&self) -> Result<Value, LabError> {
        let r = self
            .http
            .get(format!("{}/_lab/azure/function-apps", self.lab_endpoint))
            .send()
            .await
            .map_err(LabError::Status)?;
        r.json().await.map_err(LabError::Status)
    }
}
