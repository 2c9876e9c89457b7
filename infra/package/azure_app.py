"""The Azure half of `make package`: the custom handler built in release mode for the
Functions host's Linux image, checked against it, and zipped with the app's `host.json`
and `function.json` files as the package the Function app runs from; and the product's
template with the node agent inlined in its custom data.

The Functions host's image (Debian 11, "bullseye") has glibc 2.31, older than this
machine's. The handler is linked against glibc 2.31's symbols by cargo-zigbuild with a
pinned Zig (`infra/package/zig.lock`, from PyPI; cargo-zigbuild from crates.io, pinned
here), both installed under target/ on first use. The check that follows does not trust
the build: every glibc symbol version the binary needs must be 2.31 or older, and every
library it links must be one the image has."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import zipfile
from pathlib import Path

from elf_glibc import highest_glibc, needed_versions, version_key

ROOT = Path(__file__).resolve().parents[2]
CRATE = "swarmhook-azure-functions"
BINARY = "swarmhook-azure-handler"
APP = ROOT / "functions" / "azure" / "app"
TEMPLATE = ROOT / "infra" / "azure" / "azuredeploy.json"
NODE = ROOT / "infra" / "azure" / "node"
ZIP_NAME = "swarmhook-azure-functions.zip"
HOST_IMAGE = "the Functions host's Linux image (Debian 11)"
HOST_GLIBC = "GLIBC_2.31"
HOST_LIBRARIES = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2",
                  "librt.so.1"}
TARGET = "x86_64-unknown-linux-gnu"
ZIGBUILD_VERSION = "0.19.8"
TOOLS = ROOT / "target" / "tools"
ZIG_VENV = TOOLS / "zig-venv"
ZIG_LOCK = Path(__file__).resolve().parent / "zig.lock"


class PackageError(RuntimeError):
    pass


def _tools() -> dict[str, str]:
    """The environment in which `cargo zigbuild` finds Zig: both installed if missing."""
    marker = ZIG_VENV / ".installed"
    if not (marker.exists() and marker.read_text() == ZIG_LOCK.read_text()):
        print(f"package: installing Zig (pinned) in {ZIG_VENV}", flush=True)
        subprocess.run(["python3", "-m", "venv", "--clear", str(ZIG_VENV)], check=True)
        subprocess.run([str(ZIG_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-deps",
                        "--require-hashes", "-r", str(ZIG_LOCK)], check=True)
        marker.write_text(ZIG_LOCK.read_text())
    zigbuild = TOOLS / "bin" / "cargo-zigbuild"
    if not zigbuild.exists():
        print(f"package: installing cargo-zigbuild {ZIGBUILD_VERSION} in {TOOLS}", flush=True)
        subprocess.run(["cargo", "install", "--locked", "--quiet", "--version", ZIGBUILD_VERSION, "--root", str(TOOLS),
                        "cargo-zigbuild"], check=True)
    # cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH: the venv's python first.
    return {**os.environ, "PATH": f"{ZIG_VENV / 'bin'}:{TOOLS / 'bin'}:{os.environ.get('PATH', '')}"}


def build() -> Path:
    cmd = ["cargo", "zigbuild", "--release", "--locked", "--target", f"{TARGET}.{HOST_GLIBC.split('_', 1)[1]}", "-p", CRATE]
    env = _tools()
    print("building the Azure handler (release, glibc 2.31):", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, env=env)
    return binary()


def binary() -> Path:
    return ROOT / "target" / TARGET / "release" / BINARY


def check(path: Path) -> tuple[str, list[str]]:
    """(highest glibc version needed, problems): no problem means the host's image runs it."""
    problems = []
    glibc = highest_glibc(path) or "none"
    if glibc != "none" and version_key(glibc) > version_key(HOST_GLIBC):
        problems.append(f"needs {glibc}, but {HOST_IMAGE} has {HOST_GLIBC}")
    for library in sorted(needed_versions(path)):
        if library not in HOST_LIBRARIES:
            problems.append(f"links {library}, which {HOST_IMAGE} does not provide")
    return glibc, problems


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def zip_app(handler: Path, out: Path) -> int:
    """The app's package: host.json, each function's folder with its function.json, and the
    handler as `handler` (host.json's defaultExecutablePath); the same bytes for the same
    inputs. Returns its size."""
    out.parent.mkdir(parents=True, exist_ok=True)
    functions = sorted(p.parent.name for p in APP.glob("*/function.json"))
    if not functions:
        raise PackageError(f"no */function.json under {APP}")
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(_entry("host.json", 0o644), (APP / "host.json").read_bytes())
        for f in functions:
            z.writestr(_entry(f"{f}/function.json", 0o644), (APP / f / "function.json").read_bytes())
        z.writestr(_entry("handler", 0o755), handler.read_bytes(), compresslevel=9)
    return out.stat().st_size


def node_script() -> str:
    """custom-data.sh with the agent inlined (its other @…@ settings the template fills in)."""
    agent = base64.b64encode((NODE / "agent.py").read_bytes()).decode()
    return (NODE / "custom-data.sh").read_text().replace("@AGENT_BASE64@", agent)


def template(package_url: str | None = None) -> dict:
    """The product's template with the node script inlined, and the package's URL as the
    default of `packageUrl` when given (publishing gives it)."""
    t = json.loads(TEMPLATE.read_text())
    if t["variables"].get("nodeScript") != "@NODE_SCRIPT@":
        raise PackageError(f"{TEMPLATE}: variables.nodeScript should be the placeholder @NODE_SCRIPT@")
    t["variables"]["nodeScript"] = node_script()
    if package_url is not None:
        t["parameters"]["packageUrl"]["defaultValue"] = package_url
    return t


def package(out: Path, build_first: bool) -> dict:
    handler = build() if build_first else binary()
    if not handler.is_file():
        raise PackageError(f"no handler at {handler}: run `make package`")
    glibc, problems = check(handler)
    if problems:
        raise PackageError("; ".join(f"{BINARY}: {p}" for p in problems))
    zipped = zip_app(handler, out / ZIP_NAME)
    (out / "azuredeploy.json").write_text(json.dumps(template(), indent=2))
    for extra in ("createUiDefinition.json", "metadata.json"):
        src = TEMPLATE.parent / extra
        if src.exists():
            (out / extra).write_bytes(src.read_bytes())
    return {"zip": str(out / ZIP_NAME), "binary_bytes": handler.stat().st_size, "zip_bytes": zipped,
            "highest_glibc": glibc, "host_glibc": HOST_GLIBC}
