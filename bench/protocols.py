"""Ingest throughput by protocol, side by side in one run: the same generated points (see
bench/generate.py) sent as JSON to /api/v1/write and as Prometheus remote_write (snappy
protobuf, one series per point, as the data set's user_id makes nearly every point its own
series) to /api/v1/push, each into a fresh server with the same settings.

Bodies are encoded before the clock starts; `--clients` threads then send them over one
keep-alive connection each (the client side only waits on sockets; the server is the bottleneck
on a small machine). Every answer must be a success and a count afterwards must find every
point. The machine's 1-minute load average is printed next to each figure: the machine is
shared, so figures from a loaded machine are low.

    .venv/bin/python -m bench.protocols --points 200000 --batch-size 2000 --clients 4
"""

from __future__ import annotations

import argparse
import http.client
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cramjam
import msgspec
from opentelemetry.exporter.prometheus_remote_write.gen.remote_pb2 import WriteRequest

from bench.generate import METRIC, DataSet, _names, bodies, columns
from bench.server import HOST, Server, running

HIGH_LIMITS = {
    "LUMINATE_RATELIMIT_WRITE_RPS": "1000000",
    "LUMINATE_RATELIMIT_METRICS_PER_SEC": "1000000000",
    "LUMINATE_CARDINALITY_MAX_SERIES": "100000000",
}


@dataclass(frozen=True)
class Figure:
    protocol: str
    points: int
    seconds: float
    body_mb: float
    load_before: float
    load_after: float

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds


def remote_write_bodies(data: DataSet, batch_size: int) -> list[bytes]:
    customers, endpoints, regions, users = _names()
    out = []
    for i in range(data.batches(batch_size)):
        cols = columns(data, *data.batch_range(i, batch_size))
        request = WriteRequest()
        for j in range(len(cols)):
            ts = request.timeseries.add()
            for name, value in (
                ("__name__", METRIC),
                ("customer_id", customers[cols.customers[j]]),
                ("endpoint", endpoints[cols.endpoints[j]]),
                ("region", regions[cols.regions[j]]),
                ("user_id", users[cols.users[j]]),
            ):
                label = ts.labels.add()
                label.name, label.value = name, str(value)
            sample = ts.samples.add()
            sample.timestamp, sample.value = int(cols.timestamps[j]), float(cols.values[j])
        out.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    return out


def _send(port: int, token: str, path: str, headers: dict[str, str], batch: list[bytes]) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    try:
        for body in batch:
            conn.request(
                "POST", path, body=body, headers={"Authorization": f"Bearer {token}", **headers}
            )
            r = conn.getresponse()
            answer = r.read()
            if r.status not in (200, 204):
                raise RuntimeError(f"{path}: HTTP {r.status}: {answer[:300]!r}")
    finally:
        conn.close()


def _stored(server: Server, data: DataSet) -> int:
    conn = http.client.HTTPConnection(HOST, server.port, timeout=300)
    query = {
        "queryType": "aggregate",
        "metricName": METRIC,
        "timeRange": {"start": data.start_ms, "end": data.end_ms + 1},
        "aggregation": "count",
        "timeout": "60s",
    }
    conn.request(
        "POST",
        "/api/v1/query",
        body=msgspec.json.encode(query),
        headers={"Authorization": f"Bearer {server.token(('read',))}"},
    )
    results = msgspec.json.decode(conn.getresponse().read())["results"]
    conn.close()
    return int(results[0]["count"]) if results else 0


def run(protocol: str, bodies_: list[bytes], data: DataSet, clients: int, workdir: Path) -> Figure:
    path, headers = (
        ("/api/v1/write", {"Content-Type": "application/json"})
        if protocol == "json"
        else (
            "/api/v1/push",
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
        )
    )
    with running(workdir, protocol, HIGH_LIMITS) as server:
        token = server.token(("write",))
        shares = [bodies_[c::clients] for c in range(clients)]
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for f in [pool.submit(_send, server.port, token, path, headers, s) for s in shares]:
                f.result()
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        stored = _stored(server, data)
        if stored != data.points:
            raise RuntimeError(f"{protocol}: sent {data.points} points, {stored} stored")
    size = sum(len(b) for b in bodies_) / 1e6
    return Figure(protocol, data.points, seconds, size, load_before, load_after)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.protocols", description=__doc__)
    p.add_argument("--points", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=2_000)
    p.add_argument("--clients", type=int, default=4)
    args = p.parse_args(argv)
    data = DataSet(args.points, time.time_ns() // 1_000_000 - 60_000)
    print(f"encoding {args.points:,} points in batches of {args.batch_size:,} ...", flush=True)
    json_bodies = [b.data for b in bodies(data, args.batch_size)]
    rw_bodies = remote_write_bodies(data, args.batch_size)
    with tempfile.TemporaryDirectory(prefix="luminate-bench-") as tmp:
        figures = []
        for protocol, encoded in (("json", json_bodies), ("remote_write", rw_bodies)):
            print(f"sending {protocol} ...", flush=True)
            figures.append(run(protocol, encoded, data, args.clients, Path(tmp)))
    print(f"\n{'protocol':<14}{'points/s':>12}{'seconds':>10}{'body MB':>10}{'load 1m':>14}")
    for f in figures:
        print(
            f"{f.protocol:<14}{f.points_per_s:>12,.0f}{f.seconds:>10.2f}{f.body_mb:>10.1f}"
            f"{f.load_before:>7.2f}->{f.load_after:<5.2f}"
        )
    print(f"({os.cpu_count()} cores; {args.clients} client threads; fresh server per protocol)")


if __name__ == "__main__":
    main()
