//! Publishing the packaged functions and the product's template to the lab's S3, with the
//! operator's own `make publish` script (through the lab's CLI), so a product stack
//! launches what a user launches.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    /// One entry per region published to, the first one the top-level fields' (the record
    /// of a publish with `--bucket` alone has one).
    #[serde(default)]
    pub targets: Vec<PublishedTarget>,
}

/// One region's part of a publish (the record's `targets`).
#[derive(Debug, Clone, Deserialize)]
pub struct PublishedTarget {
    pub region: String,
    pub bucket: String,
    pub template_url: String,
    pub launch_stack_url: String,
    /// The bucket policy publishing printed for the bucket (never applied); null when none
    /// was made (no reader given and the publisher's account unknown).
    pub read_policy: serde_json::Value,
}

impl Lab {
    /// Runs the operator's `infra/package/publish.py` against the lab's S3 as is (the
    /// bucket is not made first), and returns what it printed and how it exited.
    pub fn run_publish_script(&self, bucket: &str) -> Result<Output, LabError> {
        let record = std::env::temp_dir().join(format!("{bucket}.json"));
        self.run_publish_script_with(
            &["--bucket", bucket, "--region", self.info.region.as_str()],
            &record,
        )
    }

    /// Runs `infra/package/publish.py` against the lab's S3 with `args` (and `--record
    /// record`), as is, and returns what it printed and how it exited.
    pub fn run_publish_script_with(
        &self,
        args: &[&str],
        record: &Path,
    ) -> Result<Output, LabError> {
        let root = repo();
        Command::new(root.join("target/lab/venv/bin/python"))
            .arg(root.join("infra/package/publish.py"))
            .args(args)
            .arg("--record")
            .arg(record)
            .env("AWS_ENDPOINT_URL", &self.info.endpoint)
            .env("AWS_ACCESS_KEY_ID", "swarmlab")
            .env("AWS_SECRET_ACCESS_KEY", "swarmlab")
            .env("AWS_DEFAULT_REGION", &self.info.region)
            .env_remove("AWS_PROFILE")
            .output()
            .map_err(|e| LabError::Unexpected(format!("running publish.py: {e}")))
    }

    /// Publishes `target/package/*.zip` and the template with `infra/package/publish.py`
    /// under the `lab/<version>/` prefix to each `(region, bucket)` of `targets` (one
    /// `--target REGION=BUCKET` each; the buckets are not made first: see
    /// [`Lab::create_bucket_in`]), with `extra` flags such as `--reader`, and returns the
    /// record and what it printed.
    pub fn publish_to_targets(
        &self,
        targets: &[(&str, &str)],
        extra: &[&str],
    ) -> Result<Published, LabError> {
        let specs: Vec<String> = targets
            .iter()
            .map(|(region, bucket)| format!("{region}={bucket}"))
            .collect();
        let mut args = vec!["--prefix", "lab"];
        for spec in &specs {
            args.extend(["--target", spec.as_str()]);
        }
        args.extend_from_slice(extra);
        let first = targets.first().map(|(_, bucket)| *bucket).unwrap_or("none");
        let record = std::env::temp_dir().join(format!("{first}-targets.json"));
        let out = self.run_publish_script_with(&args, &record)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(LabError::Unexpected(format!(
                "publish.py {}: {}{stdout}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let text = std::fs::read_to_string(&record).map_err(|e| {
            LabError::Unexpected(format!("reading the record {}: {e}", record.display()))
        })?;
        let mut value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            LabError::Unexpected(format!(
                "the record {} is not JSON ({e}): {text}",
                record.display()
            ))
        })?;
        let Some(fields) = value.as_object_mut() else {
            return Err(LabError::Unexpected(format!(
                "the record {} is not an object: {text}",
                record.display()
            )));
        };
        fields.insert("output".into(), serde_json::Value::String(stdout));
        serde_json::from_value(value).map_err(|e| {
            LabError::Unexpected(format!(
                "the record {} is odd ({e}): {text}",
                record.display()
            ))
        })
    }

    /// The lab's S3, as a client signing for `region` (a bucket made through it is in
    /// that region).
    fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .region(aws_sdk_s3::config::Region::new(region.to_owned()))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Makes `bucket` in the lab's S3, in `region` (S3's location constraint, which
    /// us-east-1 takes none of).
    pub async fn create_bucket_in(&self, bucket: &str, region: &str) -> Result<(), LabError> {
        let mut create = self.s3_in(region).create_bucket().bucket(bucket);
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        create
            .send()
            .await
            .map_err(|e| LabError::aws("CreateBucket", e))?;
        Ok(())
    }

    /// Every key in a bucket of the lab's S3 (in `region`), at most the first thousand.
    pub async fn s3_keys(&self, region: &str, bucket: &str) -> Result<Vec<String>, LabError> {
        let listed = self
            .s3_in(region)
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| LabError::aws("ListObjectsV2", e))?;
        Ok(listed
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect())
    }

    /// An object of the lab's S3, read back.
    pub async fn s3_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, LabError> {
        self.s3_object_in(&self.info.region, bucket, key).await
    }

    /// An object of a bucket of the lab's S3 in `region`, read back.
    pub async fn s3_object_in(
        &self,
        region: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<u8>, LabError> {
        let object = self
            .s3_in(region)
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
