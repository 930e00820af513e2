"""`python -m bench.write_latency`: where one small write's time goes, for a lone writer that
sends one request after another (embedded engine).

For fsync on and off, on fresh data directories:
- `engine`: the engine's insert of prebuilt columns (`Engine.insert`, as the write path calls
  it), in a process of its own that opens the store as `luminate serve` does;
- `storage`: `Storage.write` of a batch (columns, insert journal, insert), same process;
- `http`: `POST /api/v1/write` to `luminate serve` over loopback, one keep-alive connection; the
  server's own mean storage insert time is read from `luminate_storage_write_duration_seconds`.

Each layer sends `--writes` batches of `--points` points with fresh timestamps, one series per
point, and prints p50 / p90 in milliseconds."""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from bench.child import run_json
from bench.server import HOST, Server
from bench.stats import percentile
from tests.support.selfmetrics import sample

_CHILD = textwrap.dedent(
    """
    import json, sys, time, uuid
    from luminate.app import build_storage
    from luminate.model.points import TenantPoints
    from luminate.settings import load_settings
    from luminate.storage import columns
    from luminate.storage.sql import Table
    points, writes = int(sys.argv[1]), int(sys.argv[2])
    storage = build_storage(load_settings())
    storage.migrate()

    def batch():
        now = int(time.time() * 1000)
        b = TenantPoints("bench")
        for i in range(points):
            b.names.append("api_latency")
            b.timestamps.append(now - i)
            b.values.append(float(i))
            b.keys.append(["customer_id"])
            b.dim_values.append([f"c{i}"])
        return b

    def engine_insert():
        b = batch()
        groups = [columns.groups(b)]
        promoted, leads = storage.promotions.prepare([b], groups)
        ins = columns.build([b], groups, promoted, leads)
        started = time.perf_counter()
        storage.engine.insert(Table.SAMPLES, ins.names, ins.data, uuid.uuid4().hex)
        return time.perf_counter() - started

    def storage_write():
        b = batch()
        started = time.perf_counter()
        storage.write([b])
        return time.perf_counter() - started

    out = {}
    for name, fn in (("engine", engine_insert), ("storage", storage_write)):
        fn()
        out[name] = [fn() for _ in range(writes)]
    storage.close()
    print(json.dumps(out))
    """
)


def in_process(points: int, writes: int, fsync: bool) -> dict[str, list[float]]:
    result: dict[str, list[float]] = run_json(
        _CHILD,
        [str(points), str(writes)],
        {"LUMINATE_STORAGE_FSYNC": str(fsync).lower()},
        what="in-process measurement",
    )
    return result


def _body(points: int) -> bytes:
    now = int(time.time() * 1000)
    metrics = [
        {
            "name": "api_latency",
            "timestamp": now - i,
            "value": float(i),
            "dimensions": {"customer_id": f"c{i}"},
        }
        for i in range(points)
    ]
    return json.dumps({"metrics": metrics}).encode()


def _storage_insert_s(server: Server) -> tuple[float, float]:
    """Seconds spent in storage inserts so far, and how many there were."""
    metrics = server.self_metrics()
    name = "luminate_storage_write_duration_seconds"
    return (
        sample(metrics, f"{name}_sum", backend="embedded"),
        sample(metrics, f"{name}_count", backend="embedded"),
    )


def over_http(points: int, writes: int, fsync: bool) -> tuple[list[float], float]:
    """Client-observed seconds per write, and the server's mean storage insert in seconds."""
    with tempfile.TemporaryDirectory(prefix="luminate-write-latency-") as tmp:
        server = Server(
            Path(tmp) / "data",
            Path(tmp) / "server.log",
            {"LUMINATE_STORAGE_FSYNC": str(fsync).lower()},
        )
        server.start()
        try:
            headers = {
                "Authorization": f"Bearer {server.token()}",
                "Content-Type": "application/json",
            }
            conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
            took: list[float] = []
            for n in range(writes + 1):
                body = _body(points)
                if n == 1:
                    before = _storage_insert_s(server)
                started = time.perf_counter()
                conn.request("POST", "/api/v1/write", body, headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"write answered {response.status}")
                if n > 0:
                    took.append(time.perf_counter() - started)
            after = _storage_insert_s(server)
            conn.close()
        finally:
            server.stop()
    inserts = after[1] - before[1]
    return took, (after[0] - before[0]) / inserts if inserts else float("nan")


def _ms(samples: list[float]) -> str:
    return f"{percentile(samples, 50) * 1000:.1f} / {percentile(samples, 90) * 1000:.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.write_latency", description=__doc__)
    p.add_argument("--points", type=int, default=100, help="points per write")
    p.add_argument("--writes", type=int, default=200, help="writes per layer")
    args = p.parse_args(argv)
    if args.points < 1 or args.writes < 2:
        p.error("--points must be at least 1 and --writes at least 2")
    print(
        "command:", " ".join([".venv/bin/python -m bench.write_latency", *(argv or sys.argv[1:])])
    )
    print(f"{args.points} points per write, {args.writes} writes one after another")
    print(
        "| fsync | engine insert p50 / p90 ms | Storage.write | HTTP write "
        "| server's mean insert ms |"
    )
    print("|---|---|---|---|---|")
    for fsync in (True, False):
        print(f"  fsync {fsync}: in process", file=sys.stderr, flush=True)
        local = in_process(args.points, args.writes, fsync)
        print(f"  fsync {fsync}: over HTTP", file=sys.stderr, flush=True)
        remote, insert_s = over_http(args.points, args.writes, fsync)
        print(
            f"| {'on' if fsync else 'off'} | {_ms(local['engine'])} | {_ms(local['storage'])} "
            f"| {_ms(remote)} | {insert_s * 1000:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
