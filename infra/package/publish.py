"""`make publish BUCKET=… [PREFIX=…] [REGION=…]`: the packaged functions and the template
uploaded to S3 under a versioned prefix, the template's code locations rewritten to them,
and the console's Launch Stack URL printed.

Credentials and endpoint come from the usual AWS environment (a profile, or
`AWS_ENDPOINT_URL` for the lab). The bucket must be in the region the stacks will run in:
Lambda reads its code from a bucket in its own region.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "aws" / "swarmhook.yaml"
PACKAGE_DIR = ROOT / "target" / "package"
# template parameter → the packaged function whose zip it names
CODE_KEYS = {"LifecycleCodeKey": "swarmhook-lifecycle", "SwarmCodeKey": "swarmhook-swarm-resource"}


class PublishError(RuntimeError):
    pass


def version() -> str:
    """The lifecycle function's crate version and the commit, marked when the tree has
    uncommitted changes."""
    text = (ROOT / "functions" / "lifecycle" / "Cargo.toml").read_text()
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    base = m.group(1) if m else "0.0.0"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return base
    return f"{base}-{commit}" + ("-dirty" if dirty else "")


def set_default(template: str, parameter: str, value: str) -> str:
    """The template with `parameter`'s Default set to `value` (added if it has none)."""
    block = re.compile(rf"^(  {re.escape(parameter)}:\n(?:    .*\n)*)", re.M)
    m = block.search(template)
    if m is None:
        raise PublishError(f"the template has no parameter {parameter}")
    body = m.group(1)
    quoted = json.dumps(value)
    if re.search(r"^    Default:.*$", body, re.M):
        new = re.sub(r"^    Default:.*$", f"    Default: {quoted}", body, count=1, flags=re.M)
    else:
        new = body + f"    Default: {quoted}\n"
    return template[: m.start()] + new + template[m.end():]


def launch_stack_url(region: str, template_url: str, stack_name: str = "swarm") -> str:
    return (f"https://console.aws.amazon.com/cloudformation/home?region={region}"
            f"#/stacks/create/review?templateURL={quote(template_url, safe='')}&stackName={stack_name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="swarmhook")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    parser.add_argument("--version", default=None, help="default: the crate version and commit")
    parser.add_argument("--record", type=Path, default=PACKAGE_DIR / "published.json",
                        help="where to write what was published (JSON)")
    args = parser.parse_args()
    import boto3  # the lab's venv has it (make setup)

    zips = {param: PACKAGE_DIR / f"{fn}.zip" for param, fn in CODE_KEYS.items()}
    missing = [str(z) for z in zips.values() if not z.is_file()]
    if missing:
        print(f"error: not packaged: {', '.join(missing)}: run `make package` first", file=sys.stderr)
        return 1
    release = args.version or version()
    prefix = f"{args.prefix.strip('/')}/{release}" if args.prefix.strip("/") else release
    s3 = boto3.client("s3", region_name=args.region)
    try:
        s3.head_bucket(Bucket=args.bucket)
    except Exception as exc:  # the SDK's ClientError, NoCredentialsError, …
        print(f"error: bucket {args.bucket} cannot be used ({exc}): create it in {args.region}, "
              "or check your credentials", file=sys.stderr)
        return 1
    template = TEMPLATE.read_text()
    try:
        template = set_default(template, "CodeBucket", args.bucket)
        for param, path in zips.items():
            key = f"{prefix}/{path.name}"
            print(f"uploading {path.name} ({path.stat().st_size / 1e6:.1f} MB) to s3://{args.bucket}/{key}", flush=True)
            s3.upload_file(str(path), args.bucket, key)
            template = set_default(template, param, key)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the SDK's errors, with the bucket named
        print(f"error: uploading to s3://{args.bucket}: {exc}", file=sys.stderr)
        return 1
    template_key = f"{prefix}/swarmhook.yaml"
    s3.put_object(Bucket=args.bucket, Key=template_key, Body=template.encode(), ContentType="text/yaml")
    template_url = f"https://{args.bucket}.s3.{args.region}.amazonaws.com/{template_key}"
    published = {"version": release, "bucket": args.bucket, "region": args.region, "template_key": template_key,
                 "template_url": template_url, "code_keys": {p: f"{prefix}/{z.name}" for p, z in zips.items()},
                 "launch_stack_url": launch_stack_url(args.region, template_url)}
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(published, indent=2))
    print(f"published {release}: template {template_url}")
    print(f"Launch Stack: {published['launch_stack_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
