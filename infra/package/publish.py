"""`make publish BUCKET=… [REGION=…] [PREFIX=…] [TARGETS="REGION=BUCKET …"] [READERS="ACCOUNT_ID …"]`:
the packaged functions and the template uploaded to S3 under a versioned prefix, in one
bucket per region, each region's template pointing at its own bucket, and per region the
template's URL, the console's Launch Stack URL and the read policy the bucket needs printed.

Credentials and endpoint come from the usual AWS environment (a profile, or
`AWS_ENDPOINT_URL` for the lab). Each bucket must be in the region it is given for:
Lambda reads its code only from a bucket in its own region. Every bucket is checked
before anything is uploaded anywhere. Publishing never changes a bucket's policy: the
policy that lets other accounts (`--reader`) or anyone (`--public`) launch is printed,
and written into the record, for the publisher to apply.
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
CODE_KEYS = {"LifecycleCodeKey": "swarmhook-lifecycle", "SwarmCodeKey": "swarmhook-swarm-resource",
             "ConsoleCodeKey": "swarmhook-console"}
# us-east-1, eu-west-1, ap-southeast-2, us-gov-west-1, il-central-1, …
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
ACCOUNT_ID = re.compile(r"\d{12}")


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


def read_policy(bucket: str, prefix: str, release: str, readers: list[str] | None) -> dict:
    """The bucket policy that lets `readers` (account IDs; None: anyone) read what this
    release published: `s3:GetObject` on `<prefix>/<version>/*`, the zips for Lambda and the
    template for the console and CloudFormation, both fetched with the launching user's
    permissions."""
    principal: object = "*" if readers is None else {"AWS": [f"arn:aws:iam::{a}:root" for a in readers]}
    return {
        "Version": "2012-10-17",
        "Statement": [{
            # unique per release, so the statements of several releases can sit in one policy
            "Sid": "SwarmhookRead" + re.sub(r"[^A-Za-z0-9]", "", release),
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*",
        }],
    }


def parse_targets(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(region, bucket) for each target: `--bucket`/`--region` first, then every `--target`."""
    targets: list[tuple[str, str]] = []
    if args.bucket:
        region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        targets.append((region, args.bucket))
    elif args.region:
        raise PublishError(f"--region {args.region} goes with --bucket; for several regions give "
                           "--target REGION=BUCKET for each")
    for spec in args.target:
        region, sep, bucket = spec.partition("=")
        region, bucket = region.strip(), bucket.strip()
        if not sep or not bucket:
            raise PublishError(f"--target {spec}: REGION=BUCKET expected (e.g. eu-west-1=my-bucket-eu)")
        if not REGION_NAME.fullmatch(region):
            raise PublishError(f"--target {spec}: {region} is not a region name (REGION=BUCKET, "
                               "e.g. eu-west-1=my-bucket-eu)")
        targets.append((region, bucket))
    if not targets:
        raise PublishError("nothing to publish to: give --bucket NAME [--region R], or --target REGION=BUCKET")
    seen: dict[str, str] = {}
    for region, bucket in targets:
        if region in seen:
            raise PublishError(f"two buckets for {region} ({seen[region]} and {bucket}): one bucket per region")
        seen[region] = bucket
    return targets


def parse_readers(args: argparse.Namespace) -> list[str] | None:
    """The account IDs given (an empty list: none); None with --public (anyone)."""
    if args.public:
        return None
    readers: list[str] = []
    for reader in args.reader:
        account = reader.strip()
        if not ACCOUNT_ID.fullmatch(account):
            raise PublishError(f"--reader {reader}: an AWS account ID is 12 digits (e.g. 111122223333)")
        if account not in readers:
            readers.append(account)
    return readers


def check_bucket(boto3, region: str, bucket: str) -> str | None:
    """Why `bucket` cannot take a release for `region`, or None when it can."""
    s3 = boto3.client("s3", region_name=region)
    try:
        head = s3.head_bucket(Bucket=bucket)
    except Exception as exc:  # the SDK's ClientError, NoCredentialsError, …
        return (f"bucket {bucket} cannot be used in {region} ({exc}): create it in {region}, "
                "or check your credentials")
    actual = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
    if actual and actual != region:
        return (f"bucket {bucket} cannot be used in {region}: it is in {actual}, and Lambda in {region} "
                f"reads code only from a bucket in {region}")
    return None


def own_account(boto3, region: str) -> tuple[str | None, str]:
    """The publisher's account ID (None when it cannot be looked up) and why not."""
    try:
        return boto3.client("sts", region_name=region).get_caller_identity()["Account"], ""
    except Exception as exc:  # the SDK's ClientError, NoCredentialsError, …
        return None, str(exc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", help="the bucket for --region (one target)")
    parser.add_argument("--region", default=None,
                        help="--bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)")
    parser.add_argument("--target", action="append", default=[], metavar="REGION=BUCKET",
                        help="one more region and its bucket (repeatable)")
    parser.add_argument("--prefix", default="swarmhook")
    parser.add_argument("--version", default=None, help="default: the crate version and commit")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--reader", action="append", default=[], metavar="ACCOUNT_ID",
                     help="an account whose users may launch (repeatable): the printed read policy names it")
    who.add_argument("--public", action="store_true", help="anyone may launch: the printed read policy names \"*\"")
    parser.add_argument("--record", type=Path, default=PACKAGE_DIR / "published.json",
                        help="where to write what was published (JSON)")
    args = parser.parse_args()
    try:
        targets = parse_targets(args)
        readers = parse_readers(args)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import boto3  # the lab's venv has it (make setup)

    zips = {param: PACKAGE_DIR / f"{fn}.zip" for param, fn in CODE_KEYS.items()}
    missing = [str(z) for z in zips.values() if not z.is_file()]
    if missing:
        print(f"error: not packaged: {', '.join(missing)}: run `make package` first", file=sys.stderr)
        return 1
    release = args.version or version()
    prefix = f"{args.prefix.strip('/')}/{release}" if args.prefix.strip("/") else release
    # Every bucket is checked before anything is uploaded anywhere.
    refusals = [why for region, bucket in targets if (why := check_bucket(boto3, region, bucket))]
    if refusals:
        for why in refusals:
            print(f"error: {why}", file=sys.stderr)
        print("error: nothing was published", file=sys.stderr)
        return 1
    code_keys = {param: f"{prefix}/{path.name}" for param, path in zips.items()}
    template_key = f"{prefix}/swarmhook.yaml"
    source = TEMPLATE.read_text()
    try:
        for param, key in code_keys.items():
            source = set_default(source, param, key)
        templates = {bucket: set_default(source, "CodeBucket", bucket) for _, bucket in targets}
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    published_targets = []
    done: list[str] = []
    for region, bucket in targets:
        s3 = boto3.client("s3", region_name=region)
        try:
            for param, path in zips.items():
                print(f"uploading {path.name} ({path.stat().st_size / 1e6:.1f} MB) to s3://{bucket}/{code_keys[param]}",
                      flush=True)
                s3.upload_file(str(path), bucket, code_keys[param])
            s3.put_object(Bucket=bucket, Key=template_key, Body=templates[bucket].encode(), ContentType="text/yaml")
        except Exception as exc:  # the SDK's errors, with the bucket named
            print(f"error: uploading to s3://{bucket} ({region}): {exc}", file=sys.stderr)
            if done:
                print(f"error: already published in full: {', '.join(done)}; no record written", file=sys.stderr)
            return 1
        done.append(f"s3://{bucket} ({region})")
        template_url = f"https://{bucket}.s3.{region}.amazonaws.com/{template_key}"
        published_targets.append({"region": region, "bucket": bucket, "template_url": template_url,
                                  "launch_stack_url": launch_stack_url(region, template_url)})

    account, why_not = (None, "") if readers else own_account(boto3, targets[0][0])
    for target in published_targets:
        if readers is None or readers:
            target["read_policy"] = read_policy(target["bucket"], prefix, release, readers)
        elif account:
            target["read_policy"] = read_policy(target["bucket"], prefix, release, [account])
        else:
            target["read_policy"] = None

    first = published_targets[0]
    published = {"version": release, "bucket": first["bucket"], "region": first["region"],
                 "template_key": template_key, "template_url": first["template_url"], "code_keys": code_keys,
                 "launch_stack_url": first["launch_stack_url"], "targets": published_targets}
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(published, indent=2))

    for target in published_targets:
        print(f"published {release} in {target['region']}: template {target['template_url']}")
        print(f"Launch Stack ({target['region']}): {target['launch_stack_url']}")
    if readers is None or readers:
        who_reads = ("anyone" if readers is None
                     else ("account " if len(readers) == 1 else "accounts ") + ", ".join(readers))
        for target in published_targets:
            print(f"read policy for s3://{target['bucket']} ({target['region']}), letting {who_reads} launch "
                  "(printed, not applied: publishing never changes a bucket's policy; add its statement "
                  "to the bucket's policy):")
            print(json.dumps(target["read_policy"], indent=2))
        if readers is None:
            print("note: a public policy is refused while the bucket's Block Public Access settings block "
                  "public policies")
    elif account:
        print(f"note: only account {account} (yours) can launch this release; to let other accounts launch, "
              "publish with --reader ACCOUNT_ID (or --public) and apply the read policy it prints. "
              "As is, each bucket's read policy amounts to (printed, not applied):")
        for target in published_targets:
            print(f"  s3://{target['bucket']}: {json.dumps(target['read_policy'])}")
    else:
        print(f"note: only the buckets' own account can launch this release (your account could not be looked "
              f"up: {why_not}); readers in other accounts can be given with --reader ACCOUNT_ID (or --public), "
              "and the read policy to apply is then printed")
    print(f"record: {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
