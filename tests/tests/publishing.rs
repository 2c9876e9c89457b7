//! `make publish` against the lab's S3: the packaged zips and the template land under a
//! versioned prefix, the published template's code parameters default to them, the Launch
//! Stack URL names the template, and a bucket that cannot be used is refused with nothing
//! uploaded. (Every product stack in the other tests launches from such a publish.)

use std::path::PathBuf;

use swarmhook_lab_tests::{unique_name, Lab};

fn packaged(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/package/{name}.zip"))
}

#[tokio::test]
async fn publishing_uploads_the_packaged_zips_and_a_template_defaulting_to_them(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let bucket = unique_name("releases");
    let published = lab.publish_release(&bucket)?;

    let launch = published
        .output
        .lines()
        .find_map(|l| l.strip_prefix("Launch Stack: "))
        .ok_or_else(|| anyhow::anyhow!("no Launch Stack URL printed: {}", published.output))?;
    assert_eq!(launch, published.launch_stack_url);
    let console = format!(
        "https://console.aws.amazon.com/cloudformation/home?region={}#/stacks/create/review?templateURL=",
        lab.info.region
    );
    assert!(launch.starts_with(&console), "{launch}");
    let encoded: String = url_encoded(&published.template_url);
    assert!(launch.contains(&encoded), "{launch} lacks {encoded}");

    let prefix = format!("lab/{}/", published.version);
    for (param, function) in [
        ("LifecycleCodeKey", "swarmhook-lifecycle"),
        ("SwarmCodeKey", "swarmhook-swarm-resource"),
    ] {
        let key = published
            .code_keys
            .get(param)
            .ok_or_else(|| anyhow::anyhow!("no {param} in {:?}", published.code_keys))?;
        assert_eq!(key, &format!("{prefix}{function}.zip"));
        let uploaded = lab.s3_object(&bucket, key).await?;
        let local = std::fs::read(packaged(function))?;
        assert!(
            uploaded == local,
            "s3://{bucket}/{key} differs from the packaged zip"
        );
    }

    let template_key = published
        .template_url
        .split_once(".amazonaws.com/")
        .map(|(_, key)| key.to_owned())
        .ok_or_else(|| anyhow::anyhow!("odd template URL {}", published.template_url))?;
    assert_eq!(template_key, format!("{prefix}swarmhook.yaml"));
    let template = String::from_utf8(lab.s3_object(&bucket, &template_key).await?)?;
    for (param, value) in [
        ("CodeBucket", bucket.clone()),
        (
            "LifecycleCodeKey",
            published.code_keys["LifecycleCodeKey"].clone(),
        ),
        ("SwarmCodeKey", published.code_keys["SwarmCodeKey"].clone()),
    ] {
        let default = parameter_default(&template, param);
        assert_eq!(
            default.as_deref(),
            Some(value.as_str()),
            "{param}'s default"
        );
    }
    Ok(())
}

#[tokio::test]
async fn publishing_to_a_bucket_that_does_not_exist_is_refused() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let bucket = unique_name("no-such-bucket");
    let out = lab.run_publish_script(&bucket)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "publish succeeded: {stderr}");
    assert!(
        stderr.contains(&format!("bucket {bucket} cannot be used")),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("uploading"),
        "it uploaded something"
    );
    Ok(())
}

/// A parameter's `Default:` in the template's text (quoted as publishing writes it).
fn parameter_default(template: &str, parameter: &str) -> Option<String> {
    let start = template.find(&format!("\n  {parameter}:\n"))?;
    template[start + 1..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .map(|v| v.trim_matches('"').to_owned())
}

/// The URL as the console link carries it (every reserved character escaped).
fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
