"""`python -m bench.query_costs`: where the engine's time goes in the three benchmark queries, on
the embedded engine, without HTTP.

Loads `--points` high-cardinality points through `luminate serve` as `python -m bench` does (4
clients, batches of 5,000), waits for merges, stops the server, then opens the data directory
with chDB in this process and times the queries exactly as Luminate compiles them
(`storage.compile.compile_query`, the last hour, one customer per run for the selective ones)
against variants that each take one cost away:

- the table as loaded (several parts), with and without `optimize_move_to_prewhere`;
- a copy merged into one part (`OPTIMIZE ... FINAL`);
- that copy without the `ALIAS` columns (`dim_keys`, `dim_values`, `series_id`);
- for the aggregate over everything: without the time filter, and without any filter.

Variants run interleaved, `--repetitions` rounds over `--customers` customers; prints p50 and
p95 in ms. The copies live in the benchmark's own temporary data directory."""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.generate import DataSet
from bench.ingest import ingest
from bench.query import customer_sequence
from bench.run import _count
from bench.server import TENANT, running, settle
from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.storage.compile import Layout, compile_query, promoted_column

METRIC = "api_latency"
ONE_PART = "bench_one_part"
NO_ALIAS = "bench_no_alias"


def _connect(data_dir: Path) -> Any:
    import chdb  # heavy: only when measuring

    return chdb.connect(str(data_dir))  # type: ignore[no-untyped-call]


def _layout(conn: Any) -> Layout:
    prefix = promoted_column("")
    names = conn.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND "
        f"table = 'samples' AND startsWith(name, '{prefix}')",
        "CSV",
    )
    keys = [line.strip('"')[len(prefix) :] for line in names.bytes().decode().split()]
    return Layout(frozenset(keys))


def _parts(conn: Any, table: str) -> str:
    out = conn.query(
        "SELECT count(), groupArray(part_type), groupArray(rows) FROM system.parts "
        f"WHERE active AND database = currentDatabase() AND table = '{table}'",
        "TSV",
    )
    return str(out.bytes().decode().strip())


def _copies(conn: Any) -> None:
    for table in (ONE_PART, NO_ALIAS):
        conn.query(f"DROP TABLE IF EXISTS {table}", "CSV")
    conn.query(f"CREATE TABLE {ONE_PART} AS samples", "CSV")
    conn.query(f"INSERT INTO {ONE_PART} SELECT * FROM samples", "CSV")
    conn.query(f"OPTIMIZE TABLE {ONE_PART} FINAL", "CSV")
    conn.query(f"CREATE TABLE {NO_ALIAS} AS {ONE_PART}", "CSV")
    conn.query(
        f"ALTER TABLE {NO_ALIAS} DROP COLUMN series_id, DROP COLUMN dim_keys, "
        "DROP COLUMN dim_values",
        "CSV",
    )
    conn.query(f"INSERT INTO {NO_ALIAS} SELECT * FROM {ONE_PART}", "CSV")
    conn.query(f"OPTIMIZE TABLE {NO_ALIAS} FINAL", "CSV")


def _queries(layout: Layout, window: TimeRange) -> dict[str, tuple[Callable[[str], str], bool]]:
    """Each query's SQL for a customer, and whether it reads everything (no customer filter)."""

    def compiled(customer: str | None, **fields: Any) -> str:
        filters = (("customer_id", customer),) if customer else ()
        q = Query(QueryType.AGGREGATE, METRIC, window, filters=filters, **fields)
        return compile_query(TENANT, q, layout).sql

    def p95_by_endpoint(customer: str) -> str:
        return compiled(customer, aggregation=Aggregation.P95, group_by=("endpoint",))

    def count_per_minute(customer: str) -> str:
        return compiled(customer, aggregation=Aggregation.COUNT, interval_ms=60_000)

    def avg_by_customer(_: str) -> str:
        return compiled(None, aggregation=Aggregation.AVG, group_by=("customer_id",))

    return {
        "p95 one customer by endpoint": (p95_by_endpoint, False),
        "per-minute count one customer": (count_per_minute, False),
        "avg by customer": (avg_by_customer, True),
    }


def _on(table: str, settings: str = "") -> Callable[[str], str]:
    def change(sql: str) -> str:
        sql = sql.replace(" FROM samples ", f" FROM {table} ")
        return f"{sql} SETTINGS {settings}" if settings else sql

    return change


def _without(condition: str) -> Callable[[str], str]:
    def change(sql: str) -> str:
        if condition not in sql:
            raise RuntimeError(f"compiled query has no {condition!r}: {sql}")
        return sql.replace(condition, "1")

    return change


def _variants(window: TimeRange, *, full_scan: bool) -> dict[str, Callable[[str], str]]:
    variants = {
        "as loaded": _on("samples"),
        "as loaded, no PREWHERE": _on("samples", "optimize_move_to_prewhere = 0"),
        "one part": _on(ONE_PART),
        "one part, no ALIAS columns": _on(NO_ALIAS),
    }
    if full_scan:
        span = f"timestamp_ms >= {window.start_ms} AND timestamp_ms < {window.end_ms}"
        tenant = f"tenant_id = '{TENANT}' AND metric_name = '{METRIC}'"
        variants["one part, no time filter"] = lambda s: _without(span)(_on(ONE_PART)(s))
        variants["one part, no filter"] = lambda s: _without(tenant)(
            _without(span)(_on(ONE_PART)(s))
        )
    return variants


def _same(a: bytes, b: bytes) -> bool:
    """Whether two CSV answers agree: groups exactly, numbers to 1e-9 (merged parts add the
    same values in another order)."""
    rows_a = [line.split(",") for line in a.decode().splitlines()]
    rows_b = [line.split(",") for line in b.decode().splitlines()]
    if len(rows_a) != len(rows_b):
        return False
    for ra, rb in zip(rows_a, rows_b, strict=True):
        if len(ra) != len(rb):
            return False
        for x, y in zip(ra, rb, strict=True):
            if x != y and not math.isclose(float(x), float(y), rel_tol=1e-9):
                return False
    return True


# Variants that take a filter away answer a different question; only their time counts.
_CHANGES_THE_ANSWER = {"one part, no time filter", "one part, no filter"}


def _measure(
    conn: Any, layout: Layout, customers: list[str], repetitions: int
) -> list[tuple[str, str, float, float]]:
    now = int(time.time() * 1000)
    window = TimeRange(now - 3_600_000, now)
    rows = []
    for name, (compile_for, full_scan) in _queries(layout, window).items():
        variants = _variants(window, full_scan=full_scan)
        times: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(repetitions):
            for customer in customers:
                sql = compile_for(customer)
                answers = {}
                for label, change in variants.items():
                    started = time.perf_counter()
                    answers[label] = conn.query(change(sql), "CSV").bytes()
                    times[label].append((time.perf_counter() - started) * 1e3)
                for label, answer in answers.items():
                    if label not in _CHANGES_THE_ANSWER and not _same(answer, answers["as loaded"]):
                        raise RuntimeError(f"{name}, {customer}: {label} answered differently")
        for label, ts in times.items():
            ts.sort()
            p95 = ts[min(len(ts) - 1, round(0.95 * len(ts)) - 1)]
            rows.append((name, label, statistics.median(ts), p95))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.query_costs", description=__doc__)
    p.add_argument("--points", type=_count, default=2_000_000)
    p.add_argument("--customers", type=int, default=40)
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--settle", type=float, default=60.0, help="longest wait for merges, s")
    args = p.parse_args(argv)
    print("command:", " ".join([".venv/bin/python -m bench.query_costs", *(argv or sys.argv[1:])]))
    with tempfile.TemporaryDirectory(prefix="luminate-bench-query-costs-") as tmp:
        data = DataSet(args.points, int(time.time() * 1000))
        with running(Path(tmp), "load", {}) as server:
            loaded = ingest(server, data, 5000, 4)
            data_dir = server.data_dir
            settled = settle(data_dir, args.settle)
        print(
            f"loaded {args.points:,} points at {loaded.points_per_s:,.0f} points/s; merges "
            f"{'stopped' if settled.quiet else 'still running'} after {settled.waited_s:.0f} s"
        )
        conn = _connect(data_dir)
        try:
            layout = _layout(conn)
            print(f"samples: parts, types, rows: {_parts(conn, 'samples')}")
            _copies(conn)
            print(f"{ONE_PART}: {_parts(conn, ONE_PART)}")
            customers = customer_sequence(1, args.customers)
            rows = _measure(conn, layout, customers, args.repetitions)
        finally:
            conn.close()
    print(f"\nengine time in process, ms ({args.repetitions} x {args.customers} runs per row)")
    print(f"{'query':30} {'variant':28} {'p50':>7} {'p95':>7}")
    for name, label, p50, p95 in rows:
        print(f"{name:30} {label:28} {p50:7.2f} {p95:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
