"""Luminate on ClickHouse servers: ingest through Luminate beside a raw columnar insert of the
same rows with the same driver (clickhouse-driver), on one server and on the 2x2 cluster, in one
run; then the three aggregate queries on the cluster.

    .venv/bin/python -m bench.cluster [--points 1000000] [--batch-size 5000] [--clients 4]
        [--insert-quorum 1,majority] [--rounds 3]

`--insert-quorum` ingests into the cluster once per value of LUMINATE_CLICKHOUSE_INSERT_QUORUM
(each into a database of its own), so the cost of acknowledging only after a quorum of replicas
holds a batch shows as throughput and request latency side by side.

`--rounds N` measures each target N times, the raw insert right before Luminate's ingest each
time and each round into fresh databases, and reports every round's ratio and their median: the
raw insert's own rate drifts by half between minutes on a shared machine, so only a ratio of
adjacent runs means something.

Servers are Debian's ClickHouse 18.16 started on loopback from the project's templates (see
testbed/clickhouse/) and stopped at the end."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from clickhouse_driver import Client

from bench.generate import DataSet, _names, columns
from bench.ingest import ingest
from bench.query import measure, stored_points
from bench.server import running
from tests.clickhouse.harness import Cluster
from tests.support.cli import clean_env

DATABASE = "bench"
TENANT = "raw-driver"  # apart from the tenant Luminate writes as
# The columns Luminate's own insert fills: one per dimension, the customer as the lead.
COLUMNS = (
    "tenant_id, metric_name, lead_key, lead, timestamp_ms, value, "
    "dim__customer_id, dim__endpoint, dim__region, dim__user_id"
)
KEYS = ["customer_id", "endpoint", "region", "user_id"]


@dataclass(frozen=True)
class Target:
    name: str
    cluster: Cluster
    clustered: bool
    database: str = DATABASE
    insert_quorum: str = "majority"

    def env(self) -> dict[str, str]:
        env = {
            "LUMINATE_STORAGE_BACKEND": "clickhouse",
            "LUMINATE_CLICKHOUSE_HOSTS": ",".join(self.cluster.hosts),
            "LUMINATE_CLICKHOUSE_DATABASE": self.database,
            "LUMINATE_CLICKHOUSE_INSERT_QUORUM": self.insert_quorum,
            "LUMINATE_CLICKHOUSE_USERNAME": self.cluster.user,
            "LUMINATE_CLICKHOUSE_PASSWORD": self.cluster.password,
            # Every key has its column before the raw insert, which names them.
            "LUMINATE_STORAGE_PROMOTED_DIMENSIONS": ",".join(KEYS),
        }
        if self.clustered:
            env["LUMINATE_CLICKHOUSE_CLUSTER"] = self.cluster.cluster_name
        return env


def migrate(target: Target, extra_env: Mapping[str, str] | None = None) -> None:
    """`luminate migrate` against the target's servers (`extra_env`: more of its environment,
    such as the source tree to run it from)."""
    env = clean_env(**target.env(), **(extra_env or {}))
    out = subprocess.run(
        [sys.executable, "-m", "luminate", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"migrate on {target.name}: {out.stderr}")


def _rows(data: DataSet, start: int, stop: int) -> list[list[Any]]:
    cols = columns(data, start, stop)
    customers, endpoints, regions, users = _names()
    n = len(cols)
    customer = customers[cols.customers].tolist()
    return [
        [TENANT] * n,
        ["api_latency"] * n,
        ["customer_id"] * n,
        customer,
        cols.timestamps.tolist(),
        cols.values.tolist(),
        customer,
        endpoints[cols.endpoints].tolist(),
        regions[cols.regions].tolist(),
        users[cols.users].tolist(),
    ]


def _raw_client(job: tuple[list[str], str, str, DataSet, int, list[int], bool, str]) -> float:
    """One process inserting its batches; returns seconds spent inserting."""
    hosts, user, password, data, batch_size, batches, clustered, database = job
    # Shards in turn, as Luminate writes to a cluster; the single server has one "shard".
    shards = [hosts[0::2], hosts[1::2]] if clustered else [hosts]
    clients = [
        Client(
            host=h.split(":")[0],
            port=int(h.split(":")[1]),
            database=database,
            user=user,
            password=password,
        )
        for h in (s[0] for s in shards)
    ]
    table = "samples_local" if clustered else "samples"
    prepared = [(b, _rows(data, *data.batch_range(b, batch_size))) for b in batches]
    started = time.perf_counter()
    for b, rows in prepared:
        clients[b % len(clients)].execute(
            f"INSERT INTO {table} ({COLUMNS}) VALUES", rows, columnar=True
        )
    elapsed = time.perf_counter() - started
    for c in clients:
        c.disconnect()
    return elapsed


def raw_insert(target: Target, data: DataSet, batch_size: int, clients: int) -> float:
    """Points/s of the driver's columnar insert alone (rows built before timing)."""
    n = data.batches(batch_size)
    # Shard order in remote_servers is 0,1 | 2,3: the first replica of each is hosts[0], [2].
    hosts = target.cluster.hosts
    ordered = [hosts[0], hosts[2], hosts[1], hosts[3]] if target.clustered else hosts
    jobs = [
        (
            ordered,
            target.cluster.user,
            target.cluster.password,
            data,
            batch_size,
            list(range(c, n, clients)),
            target.clustered,
            target.database,
        )
        for c in range(clients)
    ]
    with mp.get_context("spawn").Pool(clients) as pool:
        started = time.perf_counter()
        pool.map(_raw_client, jobs)
        wall = time.perf_counter() - started
    return data.points / wall


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--repetitions", type=int, default=30)
    p.add_argument(
        "--insert-quorum",
        default="majority",
        help="comma list of LUMINATE_CLICKHOUSE_INSERT_QUORUM values to ingest into the cluster "
        "with (e.g. 1,majority: quorum off and on)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="raw insert and Luminate's ingest, one after the other, this many times per target",
    )
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    quorums = [q.strip() for q in args.insert_quorum.split(",") if q.strip()]
    print("command:", " ".join([".venv/bin/python -m bench.cluster", *(argv or sys.argv[1:])]))
    with tempfile.TemporaryDirectory(prefix="luminate-bench-cluster-") as tmp:
        base = Path(tmp)
        single = Cluster.start(base / "single", "single", 1)
        try:
            cluster = Cluster.start(base / "cluster", "2x2", 3)
        except BaseException:
            single.stop()
            raise
        try:
            rows = []
            targets = [Target("single server", single, False)] + [
                Target(f"2x2, quorum {q}", cluster, True, f"{DATABASE}_q{q}", q) for q in quorums
            ]
            for target in targets:
                for r in range(args.rounds):
                    each = (
                        replace(target, database=f"{target.database}_r{r}")
                        if args.rounds > 1
                        else target
                    )
                    migrate(each)
                    raw = raw_insert(
                        each, DataSet(args.points, _now_ms()), args.batch_size, args.clients
                    )
                    label = f"{target.name.replace(' ', '-')}-{r}"
                    with running(base, label, each.env()) as server:
                        data = DataSet(args.points, _now_ms(), seed=7)
                        result = ingest(server, data, args.batch_size, args.clients)
                        got = stored_points(server, data)
                        if got != data.points:
                            raise RuntimeError(f"{target.name}: stored {got} of {data.points}")
                        queries = (
                            measure(
                                server,
                                window="1h",
                                repetitions=args.repetitions,
                                warmups=3,
                                seed=1,
                            )
                            if target is targets[1] and r == 0
                            else []
                        )
                    print(
                        f"[{time.strftime('%H:%M:%S')}] {target.name}, round {r + 1}: raw "
                        f"{raw:,.0f}, Luminate {result.points_per_s:,.0f} points/s",
                        flush=True,
                    )
                    rows.append((target.name, r + 1, raw, result, queries))
        finally:
            cluster.stop()
            single.stop()
    print(
        f"\ningest, {args.points:,} points in batches of {args.batch_size:,}, "
        f"{args.clients} client processes"
    )
    print(
        f"{'target':20} {'round':>5} {'raw driver pts/s':>17} {'luminate pts/s':>15} "
        f"{'ratio':>6} {'request p50 ms':>15} {'p99 ms':>8}"
    )
    for name, r, raw, lum, _ in rows:
        print(
            f"{name:20} {r:5} {raw:17,.0f} {lum.points_per_s:15,.0f} "
            f"{lum.points_per_s / raw:6.2f} {lum.request_p50_ms:15.1f} {lum.request_p99_ms:8.1f}"
        )
    if args.rounds > 1:
        for target in targets:
            ratios = [lum.points_per_s / raw for n, _, raw, lum, _ in rows if n == target.name]
            print(
                f"{target.name}: ratio median {statistics.median(ratios):.2f} over "
                f"{len(ratios)} rounds (min {min(ratios):.2f}, max {max(ratios):.2f})"
            )
    for name, _, _, _, queries in rows:
        for q in queries:
            print(f"{name}: {q.name}: p50 {q.p50_ms:.1f} ms, p95 {q.p95_ms:.1f} ms")
    return 0


def _now_ms() -> int:
    return int(np.int64(time.time_ns() // 1_000_000))


if __name__ == "__main__":
    sys.exit(main())
