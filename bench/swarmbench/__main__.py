"""`make bench`: cold starts (no lab needed), then joins in a lab at 3, 30 and 100
workers (BENCH_WORKERS="3 30 100"); prints tables and writes target/bench/bootstrap.json."""

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
    sizes = sorted(int(n) for n in os.environ.get("BENCH_WORKERS", "3 30 100").split())
    started = time.monotonic()
    print("cold start (release binaries, each run a fresh process):", flush=True)
    cold = cold_start.measure(binaries, sys.executable)
    print("joins (the real functions in the lab):", flush=True)
    joined = joins.measure(sizes)
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
    print(table("per worker join, by the swarm's size (the function's calls, counted by the lab)", joined["api_calls"],
                ["workers_before", "joins", "function_calls_per_join", "remote_commands_per_join", "deliveries_per_join",
                 "reconcile_calls_after_round",
                 "event_to_completed_s_median", "boot_s_median", "online_to_completed_s_median",
                 "raw_join_s_median", "token_read_s_median", "run_command_round_trip_s", "overhead_ratio",
                 "overhead_ratio_with_token_read"]))
    print()
    print(table("per join", joined["per_join"], ["instance_id", "group", "event_to_completed_s", "boot_s", "online_to_completed_s", "raw_join_s", "token_read_s"]))
    print()
    worst = max(joined["api_calls"], key=lambda r: r["function_calls_per_join"])
    print(f"calls per worker join: at most {worst['function_calls_per_join']} (at {worst['workers_before']} workers; "
          f"target 12); remote commands: at most {max(r['remote_commands_per_join'] for r in joined['api_calls'])} "
          f"(target 3); overhead ratio (node online → CONTINUE) / (raw join + one Run Command round trip): "
          + ", ".join(f"{r.get('overhead_ratio')} at {r['workers_before']}" for r in joined["api_calls"]) + " (target 3); "
          "with the node's token read in the floor: "
          + ", ".join(f"{r.get('overhead_ratio_with_token_read')} at {r['workers_before']}" for r in joined["api_calls"]))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
