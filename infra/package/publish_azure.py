"""`make publish-azure ACCOUNT=… [CONTAINER=…] [PREFIX=…]`: the Function app's package, the
product's template and its portal form uploaded to Blob storage under a versioned prefix,
the template's `packageUrl` defaulting to the uploaded package; prints the template's URL
and the **Deploy to Azure** link.

The portal reads the template and the form from the browser, and the Function app reads
its package by URL ("run from package"): the container is made readable by anyone
(public access `blob`: each blob by its URL, no listing), so the account must allow
public blob access. Nothing secret is in what is uploaded. The caller's Entra token for
Storage comes from `SWARMHOOK_STORAGE_TOKEN`, or from the Azure CLI (`az account
get-access-token --resource https://storage.azure.com/`); the caller needs Storage Blob
Data Contributor on the account. In the lab, `make publish-azure ACCOUNT=lab` does the same
against Azurite (swarmlab/azure/publishing.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import azure_app
from publish import version

STORAGE_VERSION = "2025-11-05"
PACKAGE_DIR = azure_app.ROOT / "target" / "package"
CONTAINER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PORTAL = "https://portal.azure.com/#create/Microsoft.Template/uri/{template}/createUIDefinitionUri/{form}"


class PublishError(RuntimeError):
    pass


def storage_token() -> str:
    token = os.environ.get("SWARMHOOK_STORAGE_TOKEN", "").strip()
    if token:
        return token
    try:
        out = subprocess.run(["az", "account", "get-access-token", "--resource", "https://storage.azure.com/",
                              "--query", "accessToken", "-o", "tsv"], capture_output=True, text=True, check=True)
    except FileNotFoundError:
        raise PublishError("no Storage token: set SWARMHOOK_STORAGE_TOKEN or sign in with the Azure CLI (az login)") from None
    except subprocess.CalledProcessError as exc:
        raise PublishError(f"the Azure CLI gave no Storage token: {exc.stderr.strip()}") from None
    return out.stdout.strip()


class Blobs:
    def __init__(self, endpoint: str, token: str, ca_file: str | None):
        if not endpoint.startswith("https://"):
            raise PublishError(f"the blob endpoint must be https://…: {endpoint!r}")
        self.endpoint = endpoint.rstrip("/") + "/"
        self.token = token
        self.tls = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
             ) -> tuple[int, dict[str, str]]:
        req = urllib.request.Request(self.endpoint + path, data=body, method=method, headers={
            "Authorization": f"Bearer {self.token}", "x-ms-version": STORAGE_VERSION,
            "Content-Length": str(len(body or b"")), **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=120, context=self.tls) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}
        except urllib.error.HTTPError as exc:
            code = exc.headers.get("x-ms-error-code", "")
            if method == "PUT" and exc.code == 409 and code == "ContainerAlreadyExists":
                return 409, {}
            raise PublishError(f"{method} {self.endpoint}{path}: {exc.code} {code or exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise PublishError(f"{method} {self.endpoint}{path}: {exc}") from None

    def container(self, name: str) -> None:
        """Makes the container readable blob by blob by anyone; an existing one must be already."""
        status, _ = self.call("PUT", f"{name}?restype=container", headers={"x-ms-blob-public-access": "blob"})
        if status == 409:
            _, headers = self.call("GET", f"{name}?restype=container")
            if headers.get("x-ms-blob-public-access") not in ("blob", "container"):
                raise PublishError(f"the container {name} exists and is private: the portal and the Function app "
                                   "could not read what is published there; name another container (CONTAINER=…)")

    def upload(self, path: str, data: bytes, content_type: str) -> str:
        self.call("PUT", path, data, {"x-ms-blob-type": "BlockBlob", "Content-Type": content_type})
        return self.endpoint + path


def publish(endpoint: str, container: str, prefix: str, token: str, ca_file: str | None) -> dict:
    if not CONTAINER_NAME.fullmatch(container):
        raise PublishError(f"{container!r} is not a container name (3-63 lower-case letters, digits and single '-')")
    if not PREFIX.fullmatch(prefix):
        raise PublishError(f"{prefix!r} is not a prefix (letters, digits, '.', '_', '-')")
    zip_path = PACKAGE_DIR / azure_app.ZIP_NAME
    form = azure_app.TEMPLATE.parent / "createUiDefinition.json"
    if not zip_path.is_file():
        raise PublishError(f"no package at {zip_path}: run `make package` first")
    blobs = Blobs(endpoint, token, ca_file)
    ver = version()
    base = f"{container}/{prefix}/{ver}"
    blobs.container(container)
    package_url = blobs.upload(f"{base}/{azure_app.ZIP_NAME}", zip_path.read_bytes(), "application/zip")
    template = json.dumps(azure_app.template(package_url), indent=2).encode()
    template_url = blobs.upload(f"{base}/azuredeploy.json", template, "application/json")
    form_url = blobs.upload(f"{base}/createUiDefinition.json", form.read_bytes(), "application/json")
    deploy = PORTAL.format(template=quote(template_url, safe=""), form=quote(form_url, safe=""))
    return {"version": ver, "package_url": package_url, "template_url": template_url, "form_url": form_url,
            "deploy_url": deploy, "badge": f"[![Deploy to Azure](https://aka.ms/deploytoazurebutton)]({deploy})"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--account", help="the storage account to publish to (its blob endpoint in Azure's public cloud)")
    where.add_argument("--blob-endpoint", help="the blob endpoint itself (another cloud, or the lab's Azurite)")
    parser.add_argument("--container", default="swarmhook")
    parser.add_argument("--prefix", default="swarmhook")
    parser.add_argument("--ca-file", help="trust this CA for the endpoint (the lab's)")
    parser.add_argument("--record", type=Path, help="also write what was published here, as JSON")
    args = parser.parse_args(argv)
    endpoint = args.blob_endpoint or f"https://{args.account}.blob.core.windows.net/"
    try:
        out = publish(endpoint, args.container, args.prefix, storage_token(), args.ca_file)
    except (PublishError, azure_app.PackageError) as exc:
        print(f"publish-azure: {exc}", file=sys.stderr)
        return 1
    print(f"published swarmhook {out['version']} for Azure:")
    for key in ("package_url", "template_url", "form_url"):
        print(f"  {key.replace('_', ' '):13} {out[key]}")
    print(f"\nDeploy to Azure:\n  {out['deploy_url']}\n\nREADME button:\n  {out['badge']}")
    if args.record:
        args.record.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
