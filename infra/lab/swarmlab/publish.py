"""Zip a function binary as `bootstrap` (the provided.al2023 layout) and upload it to the
lab's S3, where a template's Code (S3Bucket/S3Key) finds it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .cli_clients import client


def publish(binary: Path, bucket: str, key: str) -> int:
    if not binary.is_file():
        raise SystemExit(f"no binary at {binary}: build it first (cargo build)")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary.read_bytes())
    s3 = client("s3")
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
    return len(buf.getvalue())
