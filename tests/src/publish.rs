//! Publishing the packaged functions and the product's template to the lab's S3, with the
//! operator's own `make publish` script (through the lab's CLI), so a product stack
//! launches what a user launches.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

use crate::{Lab, LabError};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What `make publish` published (its record).
#[derive(Debug, Clone, Deserialize)]
pub struct Published {
    pub version: String,
    pub template_url: String,
    pub launch_stack_url: String,
    /// Template parameter → the S3 key of the zip it defaults to.
    pub code_keys: std::collections::BTreeMap<String, String>,
    /// What the script printed.
    pub output: String,
}

impl Lab {
    /// Runs the operator's `infra/package/publish.py` against the lab's S3 as is (the
    /// bucket is not made first), and returns what it printed and how it exited.
    pub fn run_publish_script(&self, bucket: &str) -> Result<std::process::Output, LabError> {
        let root = repo();
        Command::new(root.join("target/lab/venv/bin/python"))
            .arg(root.join("infra/package/publish.py"))
            .args(["--bucket", bucket, "--region", &self.info.region])
            .args([
                "--record".into(),
                std::env::temp_dir().join(format!("{bucket}.json")),
            ])
            .env("AWS_ENDPOINT_URL", &self.info.endpoint)
            .env("AWS_ACCESS_KEY_ID", "swarmlab")
            .env("AWS_SECRET_ACCESS_KEY", "swarmlab")
            .env("AWS_DEFAULT_REGION", &self.info.region)
            .env_remove("AWS_PROFILE")
            .output()
            .map_err(|e| LabError::Unexpected(format!("running publish.py: {e}")))
    }

    /// An object of the lab's S3, read back.
    pub async fn s3_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, LabError> {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(true)
            .build();
        let object = aws_sdk_s3::Client::from_conf(config)
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| LabError::aws("GetObject", e))?;
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| LabError::Unexpected(format!("reading s3://{bucket}/{key}: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }

    /// Publishes `target/package/*.zip` and the template to `bucket` (made if missing)
    /// under the `lab/<version>/` prefix.
    pub fn publish_release(&self, bucket: &str) -> Result<Published, LabError> {
        let root = repo();
        let out = Command::new(root.join("target/lab/venv/bin/python"))
            .args(["-m", "swarmlab", "publish", bucket])
            .current_dir(root.join("infra/lab"))
            .env("PYTHONPATH", ".")
            .output()
            .map_err(|e| LabError::Unexpected(format!("running swarmlab publish: {e}")))?;
        if !out.status.success() {
            return Err(LabError::Unexpected(format!(
                "swarmlab publish {bucket}: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let record = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(record).map_err(|e| {
            LabError::Unexpected(format!(
                "swarmlab publish {bucket}: not a record ({e}): {stdout}"
            ))
        })
    }
}
