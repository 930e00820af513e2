"""`python -m bench.server_insert`: the CPU an insert into a ClickHouse server costs the thread
that sends it, per point, with the GIL held (on one server, ClickHouse 18.16 from Debian).

The same insert columns, as the write path builds them (`storage.columns.build` of the
benchmark's high-cardinality points, every key promoted), go in two ways, alternately:
- `driver encodes`: plain `str` columns, which clickhouse-driver encodes string by string;
- `luminate`: `ClickHouseEngine.insert`, which hands the driver UTF-8 bytes
  (`storage/native.py`).

Each insert's `time.thread_time()` is summed; the server's own work is not in it. Prints µs per
point for every repetition and the median.

Then, without a server, what the driver's writing of one column costs per item both ways, for
the two string types a current server's table has (`String` for the lead and distinct
dimensions, `LowCardinality(String)` for the others): the reason current servers are left to
the driver's own encoding."""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from clickhouse_driver import Client
from clickhouse_driver.bufferedwriter import BufferedSocketWriter
from clickhouse_driver.columns.service import write_column

from bench.cluster import KEYS, Target, migrate
from bench.generate import DataSet, columns
from bench.generate import _names as names
from luminate.app import build_storage
from luminate.model.points import TenantPoints
from luminate.settings import load_settings
from luminate.storage import columns as insert_columns
from luminate.storage.native import for_driver
from luminate.storage.sql import Table
from tests.clickhouse.harness import Cluster
from tests.support.cli import clean_env
from tests.support.driver import writer_context


def _batch(data: DataSet, start: int, stop: int) -> TenantPoints:
    cols = columns(data, start, stop)
    customers, endpoints, regions, users = names()
    dims = zip(
        customers[cols.customers].tolist(),
        endpoints[cols.endpoints].tolist(),
        regions[cols.regions].tolist(),
        users[cols.users].tolist(),
        strict=True,
    )
    n = len(cols)
    return TenantPoints(
        "bench",
        names=["api_latency"] * n,
        timestamps=cols.timestamps.tolist(),
        values=cols.values.tolist(),
        keys=[list(KEYS)] * n,
        dim_values=[list(d) for d in dims],
    )


def _column_costs(data: DataSet, repetitions: int) -> None:
    """Per-item CPU of the driver writing one column into a socket (drained by a thread)."""
    cols = columns(data, 0, min(data.points, 20_000))
    customers, _, _, users = names()
    dimensions = {
        "1,000 values": customers[cols.customers].tolist(),
        "nearly distinct": users[cols.users].tolist(),
    }
    contexts = {b: writer_context(as_bytes=b) for b in (False, True)}
    ours, theirs = socket.socketpair()

    def discard() -> None:
        while theirs.recv(1 << 20):
            pass

    drain = threading.Thread(target=discard)
    drain.start()
    buf = BufferedSocketWriter(ours, 1 << 20)
    print("\ndriver writing one column, CPU ns per item (best of repetitions, no server)")
    print(f"{'column type':24} {'values':16} {'driver encodes':>15} {'bytes given':>12}")
    for spec in ("String", "LowCardinality(String)"):
        for label, values in dimensions.items():
            best = {False: float("inf"), True: float("inf")}
            for _ in range(repetitions * 3):
                for as_bytes in (False, True):
                    fresh = [v.encode().decode() for v in values]  # hashes not yet cached
                    started = time.thread_time()
                    (items,) = for_driver([fresh], as_bytes=as_bytes)
                    write_column(contexts[as_bytes], "c", spec, items, buf)
                    buf.flush()
                    spent = (time.thread_time() - started) / len(values) * 1e9
                    best[as_bytes] = min(best[as_bytes], spent)
            print(f"{spec:24} {label:16} {best[False]:15.1f} {best[True]:12.1f}")
    ours.close()
    drain.join()
    theirs.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.server_insert", description=__doc__)
    p.add_argument("--points", type=int, default=400_000)
    p.add_argument("--batch-size", type=int, default=20_000)
    p.add_argument("--repetitions", type=int, default=3)
    args = p.parse_args(argv)
    print(
        "command:", " ".join([".venv/bin/python -m bench.server_insert", *(argv or sys.argv[1:])])
    )
    with tempfile.TemporaryDirectory(prefix="luminate-bench-server-insert-") as tmp:
        server = Cluster.start(Path(tmp) / "single", "single", 1)
        try:
            target = Target("single server", server, False)
            migrate(target)
            storage = build_storage(load_settings(clean_env(**target.env())))
            engine = storage.engine
            host, port = server.hosts[0].split(":")
            raw = Client(
                host=host,
                port=int(port),
                database=target.database,
                user=server.user,
                password=server.password,
            )
            data = DataSet(args.points, int(time.time() * 1000))
            inserts = []
            for b in range(data.batches(args.batch_size)):
                batch = _batch(data, *data.batch_range(b, args.batch_size))
                groups = [insert_columns.groups(batch)]
                promoted, leads = storage.promotions.prepare([batch], groups)
                inserts.append(insert_columns.build([batch], groups, promoted, leads))
            statement = f"INSERT INTO {Table.SAMPLES.value} ({{}}) VALUES"
            figures: dict[str, list[float]] = {"driver encodes": [], "luminate": []}
            for rep in range(args.repetitions):
                for way, measured in figures.items():
                    cpu = 0.0
                    for ins in inserts:
                        started = time.thread_time()
                        if way == "luminate":
                            engine.insert(Table.SAMPLES, ins.names, ins.data, uuid.uuid4().hex)
                        else:
                            raw.execute(
                                statement.format(", ".join(ins.names)),
                                for_driver(ins.data, as_bytes=False),
                                columnar=True,
                            )
                        cpu += time.thread_time() - started
                    measured.append(cpu / data.points * 1e6)
                    print(
                        f"repetition {rep + 1}: {way:15} {measured[-1]:.3f} µs/point",
                        flush=True,
                    )
            raw.disconnect()
            storage.close()
        finally:
            server.stop()
    print(
        f"\ninsert thread CPU, {args.points:,} points in inserts of {args.batch_size:,} "
        "(median of repetitions)"
    )
    for way, values in figures.items():
        print(f"{way:15} {statistics.median(values):.3f} µs/point")
    _column_costs(DataSet(args.points, int(time.time() * 1000)), args.repetitions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
