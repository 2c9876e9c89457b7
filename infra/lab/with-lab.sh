#!/usr/bin/env bash
# Runs a command against a fresh lab and always tears the lab down afterwards,
# also when the command fails or is interrupted. Exits with the command's status.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lab() { (cd "$here" && PYTHONPATH="$here" "$root/target/lab/venv/bin/python" -m swarmlab "$@"); }

teardown() {
  status=$?
  trap - EXIT INT TERM
  echo "--- tearing the lab down"
  lab down || status=1
  exit "$status"
}
trap teardown EXIT INT TERM

lab down >/dev/null 2>&1 || true   # a previous run's leftovers
lab up || exit 1
"$@"
