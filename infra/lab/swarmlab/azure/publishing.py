"""`make publish-azure ACCOUNT=lab`: the operator's publish-azure script (infra/package) run
against the lab's Azurite as the lab's operator identity: its Storage token, the lab's
blob endpoint and CA. What it publishes is what a user's deployment then runs."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .. import config
from ..cli_clients import lab_info, lab_post
from .cli import OPERATOR

sys.path.insert(0, str(config.REPO_ROOT / "infra" / "package"))
import publish_azure  # noqa: E402


def storage_token() -> str:
    ident = lab_post("/_lab/azure/identities", {"name": OPERATOR})
    url = (f"{ident['identity_endpoint']}?" +
           urllib.parse.urlencode({"resource": "https://storage.azure.com/", "api-version": "2019-08-01"}))
    req = urllib.request.Request(url, headers={"X-IDENTITY-HEADER": ident["identity_header"]})
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(json.loads(r.read())["access_token"])


def publish(container: str, prefix: str, record: Path | None) -> dict[str, Any]:
    info = lab_info()
    azure = info.get("azure") or {}
    if "blob_endpoint" not in azure:
        sys.exit("the running lab has no Azure storage: restart it with `make lab-down lab-up`")
    argv = ["--blob-endpoint", azure["blob_endpoint"], "--container", container, "--prefix", prefix,
            "--ca-file", azure["ca_cert"]]
    if record is not None:
        argv += ["--record", str(record)]
    os.environ["SWARMHOOK_STORAGE_TOKEN"] = storage_token()
    code = publish_azure.main(argv)
    if code != 0:
        sys.exit(code)
    return json.loads(record.read_text()) if record is not None else {}
