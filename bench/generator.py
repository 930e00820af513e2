"""The load generator's own ceiling: `luminate loadtest` against a target that costs nothing
(HAProxy answering every request at once with a fixed body), so what limits the figures is the
generator and the machine, not a server.

    .venv/bin/python -m bench.generator [--seconds 15] [--workers 1,2]

For writes (1,000-point batches) and for queries, closed loop, it reports requests/s, points/s
and the generator's CPU per request and per worker. Run on an idle machine: the target and the
generator share its cores."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testbed.haproxy import HAProxy
from tests.clickhouse.fleet import loadtest

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ANSWER = '{"accepted": 1000, "rejected": 0, "errors": []}'
SCENARIOS = {
    "query": ("--query-vus", "64"),
    "write": ("--write-vus", "32", "--batch-size", "1000"),
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.generator", description=__doc__)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--workers", default="1,2")
    args = p.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="luminate-generator-") as tmp:
        target = HAProxy.fixed_answer(Path(tmp), ANSWER)
        try:
            for workers in [int(w) for w in args.workers.split(",")]:
                for name, options in SCENARIOS.items():
                    run = loadtest(
                        target.url, Path(tmp) / f"{name}-{workers}", *options,
                        "--workers", str(workers), "--duration", f"{args.seconds}s",
                        "--warmup", "2s", "--tenants", "4",
                    )  # fmt: skip
                    if run.exit_code != 0:
                        raise SystemExit(run.stdout + run.stderr)
                    s, gen = run.summary["scenarios"][name], run.summary["generator"]
                    rows.append(
                        {
                            "scenario": name,
                            "workers": workers,
                            "requests_per_s": s["requests_per_s"],
                            "points_per_s": s["points_per_s"],
                            "p50_ms": s["latency_ms"]["p50"],
                            "cpu_us_per_request": gen["cpu_us_per_request"],
                            "cpu_share_per_worker": gen["cpu_share_per_worker"],
                            "peak_cpu_share_per_worker": gen["peak_cpu_share_per_worker"],
                        }
                    )
        finally:
            target.stop()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{'scenario':<8} {'workers':>7} {'req/s':>9} {'points/s':>11} {'µs CPU/req':>11} "
          f"{'CPU per worker (peak)':>24}   load average at the end {' '.join(load)}")  # fmt: skip
    for r in rows:
        shares = ", ".join(f"{float(v):.0%}" for v in r["peak_cpu_share_per_worker"].values())
        head = f"{r['scenario']:<8} {r['workers']:>7} {r['requests_per_s']:>9,.0f} "
        print(f"{head}{r['points_per_s']:>11,.0f} {r['cpu_us_per_request']:>11} {shares:>24}")
    out = RESULTS_DIR / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-generator.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "load_average": load, "rows": rows}, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
