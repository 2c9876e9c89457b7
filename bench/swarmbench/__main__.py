"""`make bench`: cold starts (no lab needed), then joins in a lab; prints tables and
writes target/bench/bootstrap.json."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from swarmlab import config

from . import cold_start, joins


def table(title: str, rows: list[dict], cols: list[str]) -> str:
    cells = [[str(r.get(c, "-")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out = [f"{title}:", "  " + "  ".join(c.upper().ljust(w) for c, w in zip(cols, widths))]
    out += ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def main() -> int:
    binaries = Path(os.environ.get("BENCH_BINARIES", config.REPO_ROOT / "target" / "release"))
    big = int(os.environ.get("BENCH_WORKERS", "30"))
    started = time.monotonic()
    print("cold start (release binaries, each run a fresh process):", flush=True)
    cold = cold_start.measure(binaries, sys.executable)
    print("joins (the real functions in the lab):", flush=True)
    joined = joins.measure(big)
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "binaries": str(binaries),
        "cold_start": cold,
        "joins": joined,
        "seconds": round(time.monotonic() - started, 1),
    }
    out = config.REPO_ROOT / "target" / "bench" / "bootstrap.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print()
    print(table("cold start", cold, ["function", "runtime", "init_ms_median", "init_ms_min", "peak_rss_mb_median"]))
    print()
    print(table("AWS API calls per worker join", joined["api_calls"],
                ["workers_before", "joins", "function_calls_per_join", "rounds_per_join",
                 "function_calls_per_round", "node_calls_per_join", "event_to_completed_s_median",
                 "raw_join_s_median", "overhead_ratio_median"]))
    print()
    print(table("per join", joined["per_join"], ["instance_id", "group", "event_to_completed_s", "raw_join_s", "overhead_ratio"]))
    print()
    small = joined["api_calls"][0]
    print(f"overhead ratio (event delivered → CONTINUE) / (raw docker swarm join), joins into a settled swarm: "
          f"median {small.get('overhead_ratio_median')} ({small.get('event_to_completed_s_median')} s / "
          f"{small.get('raw_join_s_median')} s); over every join of the run (the growth to {big} included): "
          f"{joined['overhead_ratio_median']}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
