"""A noisy neighbour: tenant B at half of its limits, first alone, then beside tenant A at five
times its limits. Prints B's write and query latency in both phases and what A was admitted.

    .venv/bin/python -m bench.noisy [--seconds 30]

Same scenario as tests/e2e/test_noisy_neighbour.py, longer and with more percentiles."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tests.e2e.load import Outcome, Plan, drive, limited_server

# B is on a larger plan than A: at half of its limits B sends what A may send in total.
QUIET = {"write_rps": 20, "query_rps": 10, "metrics_per_sec": 2_000, "burst_seconds": 1}
NOISY = {**QUIET, "write_rps": 10, "query_rps": 5, "metrics_per_sec": 1_000}
LIMITS = {"b": QUIET, "a": NOISY}
POINTS_PER_WRITE = 100


def _run(*plans: Plan) -> list[Outcome]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(plans), mp_context=ctx) as pool:
        return list(pool.map(drive, plans))


def _plan(url: str, tenant: str, factor: float, seconds: float) -> Plan:
    return Plan(
        url,
        tenant,
        LIMITS[tenant]["write_rps"] * factor,
        LIMITS[tenant]["query_rps"] * factor,
        POINTS_PER_WRITE,
        seconds,
    )


def _row(label: str, outcome: Outcome, kind: str) -> str:
    ms = np.array([a.latency_s for a in outcome.of(kind)]) * 1000
    statuses = sorted({a.status for a in outcome.of(kind)})
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return (
        f"| {label} | {kind} | {len(ms)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | "
        f"{', '.join(map(str, statuses))} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.noisy", description=__doc__)
    p.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    args = p.parse_args(argv)
    print("command:", " ".join([".venv/bin/python -m bench.noisy", *(argv or sys.argv[1:])]))
    with tempfile.TemporaryDirectory(prefix="luminate-bench-noisy-") as tmp:
        server = limited_server(Path(tmp), LIMITS).start()
        try:
            (alone,) = _run(_plan(server.url, "b", 0.5, args.seconds))
            beside, noisy = _run(
                _plan(server.url, "b", 0.5, args.seconds),
                _plan(server.url, "a", 5.0, args.seconds),
            )
        finally:
            server.kill()
    print(f"limits per tenant: {LIMITS}, {POINTS_PER_WRITE} points per write")
    print("| phase | requests | n | p50 ms | p95 ms | p99 ms | statuses |")
    print("|---|---|---|---|---|---|---|")
    for label, outcome in (("B alone", alone), ("B beside A", beside), ("A at 5x", noisy)):
        for kind in ("write", "query"):
            print(_row(label, outcome, kind))
    refused = len([a for a in noisy.answers if a.status == 429])
    print(f"A: {refused} of {len(noisy.answers)} requests refused with 429")
    failures = alone.failures + beside.failures + noisy.failures
    print(f"connection failures: {len(failures)}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
