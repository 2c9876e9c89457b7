//! `make publish` against the lab's S3: the packaged zips and the template land under a
//! versioned prefix, the published template's code parameters default to them, the Launch
//! Stack URL names the template, and a bucket that cannot be used is refused with nothing
//! uploaded. Publishing for two regions gives each region's bucket the zips and its own
//! template, and prints each region's Launch Stack URL and the read policy for a reader
//! account; a reader that is not an account ID is refused with nothing uploaded. (Every
//! product stack in the other tests launches from such a publish.)

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

    let launch_line = format!("Launch Stack ({}): ", lab.info.region);
    let launch = published
        .output
        .lines()
        .find_map(|l| l.strip_prefix(launch_line.as_str()))
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
        ("ConsoleCodeKey", "swarmhook-console"),
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
        (
            "ConsoleCodeKey",
            published.code_keys["ConsoleCodeKey"].clone(),
        ),
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

#[tokio::test]
async fn publishing_for_two_regions_gives_each_bucket_its_own_template_and_prints_the_read_policy(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let home = lab.info.region.clone();
    let away = if home == "eu-west-1" {
        "us-west-2"
    } else {
        "eu-west-1"
    };
    let home_bucket = unique_name("releases-home");
    let away_bucket = unique_name("releases-away");
    let targets = [
        (home.as_str(), home_bucket.as_str()),
        (away, away_bucket.as_str()),
    ];
    for (region, bucket) in targets {
        lab.create_bucket_in(bucket, region).await?;
    }
    let published = lab.publish_to_targets(&targets, &["--reader", "111122223333"])?;
    let output = &published.output;

    assert_eq!(published.targets.len(), 2, "{:?}", published.targets);
    assert_eq!(published.template_url, published.targets[0].template_url);
    assert_eq!(
        published.launch_stack_url,
        published.targets[0].launch_stack_url
    );
    let prefix = format!("lab/{}/", published.version);
    for (target, (region, bucket)) in published.targets.iter().zip(targets) {
        assert_eq!(
            (target.region.as_str(), target.bucket.as_str()),
            (region, bucket)
        );
        assert_eq!(
            target.template_url,
            format!("https://{bucket}.s3.{region}.amazonaws.com/{prefix}swarmhook.yaml")
        );

        // Its own Launch Stack line, opening the console in its region on its template.
        let line = format!("Launch Stack ({region}): {}", target.launch_stack_url);
        assert!(output.lines().any(|l| l == line), "no `{line}` in {output}");
        let console = format!(
            "https://console.aws.amazon.com/cloudformation/home?region={region}#/stacks/create/review?templateURL="
        );
        assert!(
            target.launch_stack_url.starts_with(&console),
            "{}",
            target.launch_stack_url
        );
        let encoded = url_encoded(&target.template_url);
        assert!(
            target.launch_stack_url.contains(&encoded),
            "{} lacks {encoded}",
            target.launch_stack_url
        );

        // The zips in each bucket, and each bucket's template pointing at that bucket.
        for (param, function) in [
            ("LifecycleCodeKey", "swarmhook-lifecycle"),
            ("SwarmCodeKey", "swarmhook-swarm-resource"),
            ("ConsoleCodeKey", "swarmhook-console"),
        ] {
            let key = &published.code_keys[param];
            assert_eq!(key, &format!("{prefix}{function}.zip"));
            let uploaded = lab.s3_object_in(region, bucket, key).await?;
            let local = std::fs::read(packaged(function))?;
            assert!(
                uploaded == local,
                "s3://{bucket}/{key} differs from the packaged zip"
            );
        }
        let template_key = format!("{prefix}swarmhook.yaml");
        let template = String::from_utf8(lab.s3_object_in(region, bucket, &template_key).await?)?;
        assert_eq!(
            parameter_default(&template, "CodeBucket").as_deref(),
            Some(bucket),
            "the CodeBucket default of s3://{bucket}/{template_key}"
        );
        for param in ["LifecycleCodeKey", "SwarmCodeKey", "ConsoleCodeKey"] {
            assert_eq!(
                parameter_default(&template, param).as_deref(),
                Some(published.code_keys[param].as_str()),
                "the {param} default of s3://{bucket}/{template_key}"
            );
        }

        // The read policy, recorded and printed: the reader may get the versioned prefix.
        let resource = format!("arn:aws:s3:::{bucket}/{prefix}*");
        let statement = &target.read_policy["Statement"][0];
        assert_eq!(statement["Effect"], "Allow", "{}", target.read_policy);
        assert_eq!(
            statement["Action"], "s3:GetObject",
            "{}",
            target.read_policy
        );
        assert_eq!(
            statement["Resource"],
            resource.as_str(),
            "{}",
            target.read_policy
        );
        assert_eq!(
            statement["Principal"]["AWS"],
            serde_json::json!(["arn:aws:iam::111122223333:root"]),
            "{}",
            target.read_policy
        );
        assert!(
            output.contains(&format!("read policy for s3://{bucket} ({region})")),
            "no read policy printed for {bucket}: {output}"
        );
        assert!(
            output.contains(&format!("\"Resource\": \"{resource}\"")),
            "{resource} not printed: {output}"
        );
    }
    assert!(
        output.contains("\"arn:aws:iam::111122223333:root\""),
        "the reader not printed: {output}"
    );
    assert!(
        output.contains("printed, not applied"),
        "not said to be unapplied: {output}"
    );
    Ok(())
}

#[tokio::test]
async fn publishing_with_a_reader_that_is_not_an_account_id_is_refused_with_nothing_uploaded(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let region = lab.info.region.clone();
    let bucket = unique_name("releases-bad-reader");
    lab.create_bucket_in(&bucket, &region).await?;
    let target = format!("{region}={bucket}");
    let record = std::env::temp_dir().join(format!("{bucket}.json"));
    let out = lab.run_publish_script_with(
        &[
            "--prefix",
            "lab",
            "--target",
            target.as_str(),
            "--reader",
            "12345",
        ],
        &record,
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "publish succeeded: {stderr}");
    assert!(
        stderr.contains("--reader 12345") && stderr.contains("12 digits"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("uploading"),
        "it uploaded something"
    );
    let keys = lab.s3_keys(&region, &bucket).await?;
    assert!(keys.is_empty(), "s3://{bucket} holds {keys:?}");
    assert!(
        !record.exists(),
        "a record was written: {}",
        record.display()
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
