#!/usr/bin/env bash
# Installs what the lab and the lint need on a fresh Debian machine, as root: Debian's
# docker.io, iproute2, curl and strace (and libc6-dev for the tests' static service image, if missing),
# a Python venv with the pinned moto, the nodes' pinned AWS CLI, Azurite from its npm
# lock, and a venv with the pinned checkov. Safe to run again: it only does what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/lab/venv"

if [ "$(id -u)" != 0 ]; then
  echo "setup: the lab needs root (network namespaces, a bridge, dockerd)" >&2
  exit 1
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
# The join script talks to the engine's API with curl (Amazon Linux has it).
command -v curl >/dev/null 2>&1 || need+=(curl)
# The lab can trace every process a command starts (which arguments it was given).
command -v strace >/dev/null 2>&1 || need+=(strace)
# The README's by-hand Azure lab calls shape their JSON with jq.
command -v jq >/dev/null 2>&1 || need+=(jq)
# The tests' service image is a static binary built with the machine's gcc and tarred.
command -v tar >/dev/null 2>&1 || need+=(tar)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  # The lab runs its own dockerd per node: keep the package from starting a system one.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
fi
command -v docker >/dev/null 2>&1 || { echo "setup: no docker CLI after installing docker.io" >&2; exit 1; }

# venv_from_lock DIR LOCK WHAT CHECK...: (re)creates the venv DIR from the pinned LOCK
# (--no-deps: the lock lists everything) unless it was made from that very lock, then
# runs CHECK in it.
venv_from_lock() {
  local dir="$1" lock="$2" what="$3"
  shift 3
  if [ -f "$dir/.installed" ] && cmp -s "$lock" "$dir/.installed"; then return 0; fi
  echo "setup: creating $what in $dir"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check --no-deps -r "$lock"
  "$dir/bin/$1" "${@:2}" >/dev/null
  cp "$lock" "$dir/.installed"
}

# The nodes' own tools (the AWS CLI), apart from moto's venv: they are the instance's.
venv_from_lock "$root/target/lab/node-tools" "$here/node-tools.lock" "the nodes' tool venv (pinned AWS CLI)" \
  aws --version
venv_from_lock "$venv" "$here/requirements.lock" "the lab's Python venv (pinned moto)" \
  python -c "import moto, boto3; assert moto.__version__ == '5.2.5', moto.__version__"
# The Azure lab's storage: Azurite from its pinned lock (npm ci), beside the lock's copy.
azurite="$root/target/lab/azurite"
if ! { [ -f "$azurite/.installed" ] && cmp -s "$here/azurite/package-lock.json" "$azurite/.installed"; }; then
  command -v npm >/dev/null 2>&1 || { echo "setup: npm not found (Node 20 installs it)" >&2; exit 1; }
  echo "setup: installing Azurite (pinned) in $azurite"
  rm -rf "$azurite"
  mkdir -p "$azurite"
  cp "$here/azurite/package.json" "$here/azurite/package-lock.json" "$azurite/"
  (cd "$azurite" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  "$azurite/node_modules/.bin/azurite-blob" --version >/dev/null
  cp "$here/azurite/package-lock.json" "$azurite/.installed"
fi
# The template's security scan (checkov), in a venv of its own: its pins differ from moto's.
venv_from_lock "$root/target/lint/venv" "$root/infra/lint/checkov.lock" "the template scanner's venv (pinned checkov)" \
  checkov --version
