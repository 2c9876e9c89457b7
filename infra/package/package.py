"""`make package`: each function built in release mode for Lambda's `provided.al2023`
runtime on x86_64, checked against that runtime, and zipped as `bootstrap`; and the
Azure Function app's package and template (azure_app.py).

The machine has one Rust target, x86_64-unknown-linux-gnu, and no other can be fetched:
the binaries link the machine's glibc dynamically. They run on Amazon Linux 2023 only if
every glibc symbol version they need exists there (AL2023 ships glibc 2.34) and every
library they need is in the runtime image; both are checked here, and the build fails
with the reason otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import azure_app
from elf_glibc import highest_glibc, needed_versions, version_key

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ["swarmhook-lifecycle", "swarmhook-swarm-resource", "swarmhook-console"]
# Amazon Linux 2023's glibc, and the shared libraries its base image provides that a Rust
# binary may link (glibc's own, and libgcc_s for unwinding).
RUNTIME = "provided.al2023 (x86_64)"
RUNTIME_GLIBC = "GLIBC_2.34"
RUNTIME_LIBRARIES = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2", "librt.so.1"}


def build(functions: list[str]) -> None:
    cmd = ["cargo", "build", "--release", "--locked"]
    for f in functions:
        cmd += ["-p", f]
    print("building (release: LTO, one codegen unit, stripped):", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def check(binary: Path) -> tuple[str, list[str]]:
    """(highest glibc version needed, problems): no problem means it runs on the runtime."""
    problems = []
    glibc = highest_glibc(binary) or "none"
    if glibc != "none" and version_key(glibc) > version_key(RUNTIME_GLIBC):
        problems.append(f"needs {glibc}, but {RUNTIME} has {RUNTIME_GLIBC}: build on an older glibc")
    for library in sorted(needed_versions(binary)):
        if library not in RUNTIME_LIBRARIES:
            problems.append(f"links {library}, which {RUNTIME} does not provide")
    return glibc, problems


def zip_bootstrap(binary: Path, out: Path) -> int:
    """Writes `out` holding the binary as an executable `bootstrap`, byte for byte the same
    for the same binary (fixed timestamp); returns its size."""
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(info, binary.read_bytes(), compresslevel=9)
    return out.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="package the release binaries already built")
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "package")
    args = parser.parse_args()
    if not args.no_build:
        build(FUNCTIONS)
    rows, failed, report = [], False, {"runtime": RUNTIME, "runtime_glibc": RUNTIME_GLIBC, "functions": {}}
    for name in FUNCTIONS:
        binary = ROOT / "target" / "release" / name
        if not binary.is_file():
            print(f"error: no release binary at {binary}: run `make package`", file=sys.stderr)
            return 1
        glibc, problems = check(binary)
        if problems:
            failed = True
            for p in problems:
                print(f"error: {name}: {p}", file=sys.stderr)
            continue
        zipped = zip_bootstrap(binary, args.out / f"{name}.zip")
        size = binary.stat().st_size
        rows.append((name, f"{size / 1e6:.1f} MB", f"{zipped / 1e6:.1f} MB", glibc))
        report["functions"][name] = {"zip": str(args.out / f"{name}.zip"), "binary_bytes": size,
                                     "zip_bytes": zipped, "highest_glibc": glibc}
    if failed:
        print(f"packaging failed: a binary would not run on {RUNTIME}", file=sys.stderr)
        return 1
    head = ("function", "binary", "zip", f"highest glibc (runtime: {RUNTIME_GLIBC})")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    try:
        azure = azure_app.package(args.out, not args.no_build)
    except (azure_app.PackageError, subprocess.CalledProcessError) as exc:
        print(f"error: the Azure package: {exc}", file=sys.stderr)
        return 1
    report["azure"] = azure
    print(f"{azure_app.ZIP_NAME}: handler {azure['binary_bytes'] / 1e6:.1f} MB, zip {azure['zip_bytes'] / 1e6:.1f} MB, "
          f"highest glibc {azure['highest_glibc']} ({azure_app.HOST_IMAGE}: {azure_app.HOST_GLIBC})")
    (args.out / "package.json").write_text(json.dumps(report, indent=2))
    print(f"zips in {args.out}; every binary fits its runtime")
    return 0


if __name__ == "__main__":
    sys.exit(main())
