"""The packaged functions (`make package`) published to the lab's S3 exactly as an operator
publishes them to theirs (`make publish`, the same script), so every stack the lab
launches comes from the published template and runs the packaged `bootstrap`s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from . import config
from .cli_clients import client, lab_info

PUBLISH = config.REPO_ROOT / "infra" / "package" / "publish.py"


class PublishFailed(RuntimeError):
    pass


def publish_release(bucket: str, prefix: str = "lab") -> dict[str, Any]:
    """Creates `bucket` in the lab's S3 if needed, runs `infra/package/publish.py` against
    the lab, and returns what it published (its record: template URL, code keys, Launch
    Stack URL)."""
    info = lab_info()
    s3 = client("s3")
    try:
        s3.create_bucket(Bucket=bucket)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    record = config.REPO_ROOT / "target" / "lab" / "published" / f"{bucket}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": info["endpoint"],
        "AWS_ACCESS_KEY_ID": "swarmlab",
        "AWS_SECRET_ACCESS_KEY": "swarmlab",
        "AWS_DEFAULT_REGION": info["region"],
    })
    env.pop("AWS_PROFILE", None)
    out = subprocess.run(
        [sys.executable, str(PUBLISH), "--bucket", bucket, "--prefix", prefix, "--region", info["region"],
         "--record", str(record)],
        env=env, capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise PublishFailed(f"make publish against the lab failed: {out.stderr.strip() or out.stdout.strip()}")
    published = json.loads(record.read_text())
    published["output"] = out.stdout
    return published
