//! The lab's service image, made from what the machine has: a static HTTP responder
//! (`tests/fixtures/tiny-image/serve.c`) compiled with gcc, tarred as a one-file root
//! filesystem, and imported onto a node with `docker import` (no registry, no base image).

use std::path::PathBuf;
use std::process::Command;

use crate::{Lab, LabError};

/// The image's name on every node it is loaded onto.
pub const TINY_IMAGE: &str = "swarmhook-tiny:1";

fn source() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny-image/serve.c")
}

fn run(what: &str, cmd: &mut Command) -> Result<(), LabError> {
    let out = cmd
        .output()
        .map_err(|e| LabError::Unexpected(format!("{what}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Unexpected(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Builds the image's root filesystem as a tar under the lab's run folder; returns its path.
pub fn build(lab: &Lab) -> Result<PathBuf, LabError> {
    let dir = PathBuf::from(&lab.info.run_dir).join(format!("tiny-image-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rootfs"))
        .map_err(|e| LabError::Unexpected(format!("{}: {e}", dir.display())))?;
    run(
        "gcc -static serve.c",
        Command::new("gcc")
            .args(["-static", "-Os", "-o"])
            .arg(dir.join("rootfs/serve"))
            .arg(source()),
    )?;
    let tar = dir.join("rootfs.tar");
    run(
        "tar the root filesystem",
        Command::new("tar")
            .arg("-C")
            .arg(dir.join("rootfs"))
            .arg("-cf")
            .arg(&tar)
            .arg("serve"),
    )?;
    Ok(tar)
}

/// Imports the image onto `instance`'s engine (the node reads the tar from the lab's
/// folder, which every node shares); a node that has it already keeps it.
pub async fn load(lab: &Lab, instance: &str, tar: &std::path::Path) -> Result<(), LabError> {
    let script = format!(
        "docker image inspect {TINY_IMAGE} >/dev/null 2>&1 || docker import --change 'CMD [\"/serve\"]' '{}' {TINY_IMAGE} >/dev/null",
        tar.display()
    );
    lab.run_ok(instance, &script).await.map(|_| ())
}

/// Builds the image and imports it onto every instance of the swarm's two groups.
pub async fn load_on_every_node(
    lab: &Lab,
    swarm: &crate::product::Product,
) -> Result<(), LabError> {
    let tar = build(lab)?;
    let mut instances = swarm.ids(lab, &swarm.managers).await?;
    instances.extend(swarm.ids(lab, &swarm.workers).await?);
    for id in &instances {
        load(lab, id, &tar).await?;
    }
    Ok(())
}
