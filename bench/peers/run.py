"""`python -m bench.peers`: Luminate beside VictoriaMetrics, InfluxDB, Prometheus and a raw
ClickHouse 18.16 table, on the same points (one generator), checked against one oracle.

For each scenario (low: at most 250k series; high: nearly a series per point) and each system,
on a fresh server: `--clients` processes encode their share of `--points` points in batches of
`--batch-size` in the system's own write format, wait at a barrier, then send them over one
keep-alive connection each (the raw ClickHouse table: the driver's columnar insert); only the
sending is timed, and the server's CPU over that time is read from /proc. Then the system is
flushed, its disk use read, and the three queries run one at a time (`--warmups`, then
`--repetitions` timed, at most `--query-seconds` per query), each for a different customer; the
first answer of each is checked against the oracle. The load average is recorded with every
system's figures.

    bench/peers/setup.sh            # installs the peers from Debian (once)
    .venv/bin/python -m bench.peers --points 2M
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import multiprocessing.synchronize as mps
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import msgspec

from bench.generate import DEFAULT_SEED, DEFAULT_SPAN_S, DataSet
from bench.peers import data as fmt
from bench.peers.oracle import Oracle, within_rank
from bench.peers.registry import SYSTEMS, installed
from bench.peers.report import render
from bench.peers.systems import (
    Luminate,
    Sender,
    System,
    Target,
    cpu_seconds,
    prepare,
    thread_cpu_seconds,
)
from bench.query import customer_sequence
from bench.run import RESULTS_DIR, _count, add_env_option
from bench.stats import ms, percentile

QUERIES = ("p95_one_customer_by_endpoint", "count_per_minute_one_customer", "avg_by_customer")


@dataclass(frozen=True)
class Job:
    client: int
    target: Target
    data: DataSet
    scenario: fmt.Scenario
    batch_size: int
    batches: tuple[int, ...]


def _client(job: Job, barrier: mps.Barrier, out: Queue[dict[str, Any]]) -> None:
    result: dict[str, Any] = {"client": job.client, "error": None}
    try:
        payloads = [
            (prepare(job.target, job.data, job.scenario, b, job.batch_size), b) for b in job.batches
        ]
        sender = Sender(job.target)
        barrier.wait(900)
        result["started"] = time.monotonic()
        for payload, b in payloads:
            start, stop = job.data.batch_range(b, job.batch_size)
            sender.send(payload, stop - start)
        result["finished"] = time.monotonic()
        sender.close()
    except Exception:
        barrier.abort()
        result["error"] = traceback.format_exc()
    out.put(result)


def ingest(
    system: System, data: DataSet, scenario: fmt.Scenario, batch: int, clients: int
) -> dict[str, Any]:
    n = data.batches(batch)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients + 1)
    results: Queue[dict[str, Any]] = ctx.Queue()
    target = system.target()
    procs = [
        ctx.Process(
            target=_client,
            args=(
                Job(c, target, data, scenario, batch, tuple(range(c, n, clients))),
                barrier,
                results,
            ),
            daemon=True,
        )
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    barrier.wait(900)
    cpu0, threads0 = cpu_seconds(system.pid()), thread_cpu_seconds(system.pid())
    inserts0 = system.inserts()
    got = [results.get(timeout=3600) for _ in procs]
    cpu1, threads1 = cpu_seconds(system.pid()), thread_cpu_seconds(system.pid())
    inserts1 = system.inserts()
    for p in procs:
        p.join(30)
    errors = [r["error"] for r in got if r["error"]]
    if errors:
        raise RuntimeError(f"{system.name}: {errors[0]}")
    seconds = max(r["finished"] for r in got) - min(r["started"] for r in got)
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    by_thread = {name: t - threads0.get(name, 0.0) for name, t in threads1.items()}
    return {
        "seconds": round(seconds, 3),
        "points_per_s": round(data.points / seconds),
        "cpu_us_per_point": None if cpu is None else round(cpu / data.points * 1e6, 2),
        # Threads that ended during the ingest are missing here; live ones are most of it.
        "cpu_us_per_point_by_thread": {
            name: round(t / data.points * 1e6, 2)
            for name, t in sorted(by_thread.items(), key=lambda kv: -kv[1])
            if t > 0
        },
        # How many points each storage insert carried (each insert makes a part to merge).
        "points_per_insert": (
            None
            if inserts0 is None or inserts1 is None or inserts1 == inserts0
            else round(data.points / (inserts1 - inserts0))
        ),
        "loadavg": _load(),
    }


def check(query: str, answer: dict[str, Any], oracle: Oracle, customer: str) -> dict[str, Any]:
    """How the answer compares with the oracle."""
    if query == "avg_by_customer":
        want = oracle.avg_by_customer()
        missing = len(set(want) - set(answer))
        err = max((abs(answer[k] - v) / abs(v) for k, v in want.items() if k in answer), default=0)
        return {"ok": missing == 0 and err < 1e-6, "groups_missing": missing, "max_rel_error": err}
    if query == "p95_one_customer_by_endpoint":
        want_p = oracle.p95_by_endpoint(customer)
        ranks = [within_rank(v, 0.95, float(answer[k])) for k, v in want_p.items() if k in answer]
        missing = len(set(want_p) - set(answer))
        worst = max(ranks, default=0.0)
        return {
            "ok": missing == 0 and worst <= 0.01,
            "groups_missing": missing,
            "max_rank_error": worst,
        }
    total = int(sum(answer.values()))
    return {
        "ok": total == oracle.count(customer),
        "points": total,
        "expected": oracle.count(customer),
    }


def run_queries(
    system: System,
    data: DataSet,
    oracle: Oracle,
    warmups: int,
    reps: int,
    budget_s: float,
    seed: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    customers = customer_sequence(seed, warmups + reps)
    for query in QUERIES:
        times: list[float] = []
        verdict: dict[str, Any] = {}
        spent = 0.0
        for i, customer in enumerate(customers):
            t0 = time.perf_counter()
            answer = system.answer(query, data, customer)
            elapsed = time.perf_counter() - t0
            if i == 0:
                verdict = check(query, answer, oracle, customer)
            if i >= warmups:
                times.append(elapsed)
                spent += elapsed
                if spent > budget_s and len(times) >= 3:
                    break
            elif elapsed > budget_s:
                break  # too slow to warm up more than once within the budget
        if not times:
            times = [elapsed]
        out[query] = {
            "runs": len(times),
            "p50_ms": ms(percentile(times, 50)),
            "p95_ms": ms(percentile(times, 95)),
            "check": verdict,
        }
    return out


def measure(
    name: str,
    scenario: fmt.Scenario,
    data: DataSet,
    oracle: Oracle,
    args: argparse.Namespace,
    base: Path,
) -> dict[str, Any]:
    workdir = base / f"{scenario.name}-{name}"
    workdir.mkdir(parents=True)
    system = Luminate(workdir, dict(args.env)) if name == "luminate" else SYSTEMS[name](workdir)
    _progress(f"{scenario.name}/{name}: starting (load {_load()})")
    system.start()
    try:
        result: dict[str, Any] = {"system": name, "scenario": scenario.name}
        result["ingest"] = ingest(system, data, scenario, args.batch_size, args.clients)
        _progress(f"{scenario.name}/{name}: {result['ingest']['points_per_s']:,} points/s")
        system.flush()
        result["bytes_per_point"] = round(system.disk_bytes() / data.points, 2)
        result["queries"] = run_queries(
            system, data, oracle, args.warmups, args.repetitions, args.query_seconds, args.seed
        )
        result["loadavg_end"] = _load()
        return result
    finally:
        system.stop()
        if not args.keep_data:
            shutil.rmtree(workdir, ignore_errors=True)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.peers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--points", type=_count, default=2_000_000)
    p.add_argument("--batch-size", type=_count, default=5_000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--scenarios", default="low,high")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--warmups", type=int, default=3)
    p.add_argument("--repetitions", type=int, default=30)
    p.add_argument("--query-seconds", type=float, default=30.0, help="time budget per query")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--output", type=Path)
    add_env_option(p, "run Luminate with this setting (repeatable); the defaults otherwise")
    args = p.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    unknown = [s for s in systems if s not in SYSTEMS]
    missing = [s for s in systems if not installed(s)]
    if unknown or missing:
        p.error(f"unknown systems {unknown}; not installed {missing} (run bench/peers/setup.sh)")
    command = (
        shlex.join(sys.orig_argv) if argv is None else shlex.join(["-m", "bench.peers", *argv])
    )
    started = dt.datetime.now(dt.UTC)
    doc: dict[str, Any] = {
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "config": {k: str(v) for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
        "loadavg_start": _load(),
        "results": [],
        "failures": [],
    }
    base = Path(tempfile.mkdtemp(prefix="luminate-peers-"))
    try:
        for sname in args.scenarios.split(","):
            scenario = fmt.SCENARIOS[sname]
            data = DataSet(
                args.points, time.time_ns() // 1_000_000, DEFAULT_SPAN_S * 1000, args.seed
            )
            oracle = Oracle.of(data)
            for name in systems:
                try:
                    doc["results"].append(measure(name, scenario, data, oracle, args, base))
                except Exception as exc:  # one system failing must not lose the others' figures
                    _progress(f"{scenario.name}/{name}: FAILED: {exc}")
                    doc["failures"].append(
                        {"system": name, "scenario": scenario.name, "error": str(exc)[:2000]}
                    )
    finally:
        if not args.keep_data:
            shutil.rmtree(base, ignore_errors=True)
    doc["loadavg_end"] = _load()
    print(render(doc))
    path = args.output or RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}-peers.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n")
    print(f"\nresults: {path}")
    return 0
