//! Publishing a function binary to the lab's S3 (through the lab's own CLI), as the
//! product's template expects its code.

use std::path::PathBuf;
use std::process::Command;

use crate::{Lab, LabError};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Lab {
    /// Zips `target/debug/<binary>` as `bootstrap` and uploads it to `bucket/key`.
    pub fn publish_function(&self, binary: &str, bucket: &str, key: &str) -> Result<(), LabError> {
        let root = repo();
        let out = Command::new(root.join("target/lab/venv/bin/python"))
            .args(["-m", "swarmlab", "publish"])
            .arg(root.join("target/debug").join(binary))
            .args([bucket, key])
            .current_dir(root.join("infra/lab"))
            .env("PYTHONPATH", ".")
            .output()
            .map_err(|e| LabError::Unexpected(format!("running swarmlab publish: {e}")))?;
        if !out.status.success() {
            return Err(LabError::Unexpected(format!(
                "swarmlab publish {binary}: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }
}
