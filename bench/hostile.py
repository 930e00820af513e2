"""/healthz latency while a stream of worst-case write bodies arrives: each body is 14 MB and
holds one point with a million dimensions (refused with `too_many_dimensions`). Prints the probe
latency percentiles with no load and during the stream, and how long each refusal took.

    .venv/bin/python -m bench.hostile [--bodies 10]

tests/e2e/test_hostile_latency.py runs the same measurement (fewer bodies) and requires p99 <=
50 ms during the stream."""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import httpx
import msgspec

from tests.e2e.server import LuminateProcess


def worst_case_body(dimensions: int = 1_000_000) -> bytes:
    dims = {f"k{i}": "v" for i in range(dimensions)}
    now = time.time_ns() // 1_000_000
    return msgspec.json.encode(
        {"metrics": [{"name": "hostile", "timestamp": now, "value": 1.0, "dimensions": dims}]}
    )


@dataclass
class Stream:
    """The probe latencies taken while the bodies were sent, and each body's answer (status,
    first per-point code) and client-observed time."""

    probe_s: list[float] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)
    answer_s: list[float] = field(default_factory=list)

    def p(self, q: int) -> float:
        return statistics.quantiles(self.probe_s, n=100)[q - 1]


def _send(url: str, headers: dict[str, str], dimensions: int, bodies: int, out: Queue[Any]) -> None:
    """In its own process, so building and sending the bodies never competes with the probe
    for this process's interpreter."""
    body = worst_case_body(dimensions)
    with httpx.Client(timeout=120) as client:
        for _ in range(bodies):
            started = time.perf_counter()
            resp = client.post(f"{url}/api/v1/write", content=body, headers=headers)
            errors = resp.json().get("errors") or [{"error": {"code": ""}}]
            out.put((resp.status_code, errors[0]["error"]["code"], time.perf_counter() - started))
    out.put(None)


def probe_during(
    url: str, headers: dict[str, str], bodies: int, dimensions: int = 1_000_000
) -> Stream:
    """Send `bodies` worst-case bodies one after another from another process while probing
    /healthz every 5 ms from this one."""
    ctx = multiprocessing.get_context("spawn")
    results: Queue[Any] = ctx.Queue()
    sender = ctx.Process(target=_send, args=(url, headers, dimensions, bodies, results))
    out = Stream()
    with httpx.Client(timeout=30) as probe:
        probe.get(f"{url}/healthz")  # the probe's connection is open before the stream starts
        sender.start()
        while True:
            try:
                item = results.get_nowait()
            except queue.Empty:
                item = ()
            if item is None:
                break
            if item:
                status, code, took = item
                out.answers.append((status, code))
                out.answer_s.append(took)
                continue
            started = time.perf_counter()
            probe.get(f"{url}/healthz").raise_for_status()
            out.probe_s.append(time.perf_counter() - started)
            time.sleep(0.005)
    sender.join(60)
    return out


def idle_probes(url: str, n: int = 200) -> list[float]:
    out = []
    with httpx.Client(timeout=30) as probe:
        for _ in range(n):
            started = time.perf_counter()
            probe.get(f"{url}/healthz").raise_for_status()
            out.append(time.perf_counter() - started)
            time.sleep(0.005)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    p.add_argument("--bodies", type=int, default=10)
    args = p.parse_args(argv)
    body = worst_case_body()
    with tempfile.TemporaryDirectory() as tmp:
        proc = LuminateProcess(data_dir=Path(tmp) / "data", log_path=Path(tmp) / "server.log")
        proc.start()
        try:
            idle = idle_probes(proc.url)
            stream = probe_during(proc.url, proc.headers("hostile", "write"), args.bodies)
        finally:
            proc.stop()
    codes = {code for _, code in stream.answers}
    q = statistics.quantiles(idle, n=100)
    print(f"body: {len(body) / 1e6:.1f} MB, one point with 1,000,000 dimensions -> {codes}")
    print("| phase | probes | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    print(
        f"| idle | {len(idle)} | {q[49] * 1e3:.1f} | {q[94] * 1e3:.1f} | {q[98] * 1e3:.1f} | "
        f"{max(idle) * 1e3:.1f} |"
    )
    print(
        f"| {args.bodies} hostile bodies | {len(stream.probe_s)} | {stream.p(50) * 1e3:.1f} | "
        f"{stream.p(95) * 1e3:.1f} | {stream.p(99) * 1e3:.1f} | {max(stream.probe_s) * 1e3:.1f} |"
    )
    print(
        f"each refusal, client-observed: median {statistics.median(stream.answer_s) * 1e3:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
