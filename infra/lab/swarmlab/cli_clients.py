"""boto3 clients pointed at a running lab."""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
from botocore.config import Config

from . import config


def lab_info() -> dict[str, Any]:
    path = config.paths().lab_json
    if not path.exists():
        sys.exit(f"the lab is not running ({path} is missing): start it with `make lab-up`")
    return json.loads(path.read_text())


def lab_post(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POSTs to one of the lab's own endpoints; exits with its message if it refuses."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        lab_info()["endpoint"] + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        sys.exit(f"the lab refused: {json.loads(exc.read()).get('message', exc)}")


def client(service: str) -> Any:
    info = lab_info()
    return boto3.client(
        service,
        endpoint_url=info["endpoint"],
        region_name=info["region"],
        aws_access_key_id="swarmlab",
        aws_secret_access_key="swarmlab",
        config=Config(retries={"max_attempts": 1}),
    )
