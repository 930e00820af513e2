"""Moving points from the previous storage layout (sorted by time only, every dimension in two
arrays) to the current one, online: the service answers reads and writes throughout.

`luminate migrate` (or an embedded process at start) renames the previous table to
`samples_legacy` and creates `samples` in the current layout; new points go there at once. Then
the previous rows are copied over one day partition at a time, marked `migrated = 1`. Until every
partition is copied, reads see `samples` without the copied rows plus `samples_legacy`
(`LegacyReads`), so nothing is missing or counted twice at any moment; once the copy is complete
and verified by counts, `samples_legacy` is dropped and reads see `samples` alone. An interrupted
copy resumes: a partition whose copy is incomplete is cleared of its copied rows and copied
again."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence

from luminate.storage import schema
from luminate.storage.compile import Layout, promoted_column
from luminate.storage.engine import Column, Engine, SelectResult
from luminate.storage.errors import StorageError, StorageTimeout
from luminate.storage.sql import (
    AnyStatement,
    Statement,
    SystemStatement,
    SystemTable,
    Table,
    ident,
    quote,
)

log = logging.getLogger("luminate.storage")

_DAY = "toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC'))"
# How a compiled statement names the points table: `scan()`'s exact output.
_SCAN = re.compile(r"FROM samples WHERE (tenant_id = '(?:\\.|[^'\\])*')")
MUTATION_TIMEOUT_S = 600.0


class LegacyState:
    """Whether the previous layout's table still exists, and its columns (shared by the reads
    and the copy)."""

    def __init__(self) -> None:
        self.active = False
        self.columns: frozenset[str] = frozenset()


def union_source(tenant_predicate: str, layout: Layout, legacy_columns: frozenset[str]) -> str:
    """Both tables as one, with the current table's column names; the copied rows are left out
    of the current table's side until the copy is complete."""
    promoted = sorted(layout.promoted)
    common = ["tenant_id", "metric_name", "timestamp_ms", "value", "dim_keys", "dim_values"]
    current = [
        *common,
        "lead_key",
        "lead",
        "series_id",
        *(ident(promoted_column(k)) for k in promoted),
    ]
    previous = [*common, "'' AS lead_key", "'' AS lead", "series_id"]
    for k in promoted:
        col = promoted_column(k)
        previous.append(
            ident(col)
            if col in legacy_columns
            else f"arrayElement(dim_values, indexOf(dim_keys, {quote(k)})) AS {ident(col)}"
        )
    return (
        f"(SELECT {', '.join(current)} FROM samples WHERE {tenant_predicate} AND migrated = 0 "
        f"UNION ALL SELECT {', '.join(previous)} FROM {Table.LEGACY.value} "
        f"WHERE {tenant_predicate}) AS samples"
    )


class LegacyReads:
    """An `Engine` that, while the previous layout's table exists, reads `samples` as the union
    of both tables (`union_source`); everything else goes to the engine unchanged. Once the
    previous table is gone (dropped by this process or, in a cluster, by another one), reads
    see the current table alone."""

    def __init__(self, engine: Engine, state: LegacyState, layout: Callable[[], Layout]) -> None:
        self.inner = engine
        self.state = state
        self._layout = layout
        self.name = engine.name
        self.idempotent_inserts = engine.idempotent_inserts
        self.content_dedup = engine.content_dedup
        self.min_timeout_s = engine.min_timeout_s

    def _rewrite(self, stmt: AnyStatement) -> AnyStatement:
        if not self.state.active or not isinstance(stmt, Statement):
            return stmt
        layout, columns = self._layout(), self.state.columns
        sql = _SCAN.sub(
            lambda m: f"FROM {union_source(m.group(1), layout, columns)} WHERE {m.group(1)}",
            stmt.sql,
        )
        return stmt if sql == stmt.sql else Statement(sql, stmt.tenant, stmt.settings)

    def version(self) -> str:
        return self.inner.version()

    def ping(self) -> None:
        self.inner.ping()

    def execute(self, stmt: AnyStatement) -> None:
        self.inner.execute(stmt)

    def select(self, stmt: AnyStatement) -> SelectResult:
        rewritten = self._rewrite(stmt)
        try:
            return self.inner.select(rewritten)
        except StorageError as exc:
            # Another process finished the copy and dropped the previous table.
            if rewritten is stmt or Table.LEGACY.value not in str(exc):
                raise
            self.state.active = False
            return self.inner.select(stmt)

    def insert(
        self,
        table: Table | SystemTable,
        columns: Sequence[str],
        data: Sequence[Column],
        dedup_token: str,
    ) -> None:
        self.inner.insert(table, columns, data, dedup_token)

    def shards(self) -> list[list[tuple[str, int]]]:
        return self.inner.shards()

    def select_on(
        self, server: tuple[str, int], stmt: SystemStatement, timeout_s: float
    ) -> SelectResult:
        return self.inner.select_on(server, stmt, timeout_s)

    def close(self) -> None:
        self.inner.close()


class LegacyCopy:
    """Copies the previous table's rows into the current one (see the module's docstring)."""

    def __init__(
        self,
        engine: Engine,
        topology: schema.Topology,
        state: LegacyState,
        layout: Callable[[], Layout],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self._engine = engine
        self._topo = topology
        self._state = state
        self._layout = layout
        self._progress = progress or log.info
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self) -> int:
        """Copy every partition not yet copied, then drop the previous table. Returns the rows
        copied. Safe to run again after an interruption, and concurrently (one runs at a time)."""
        with self._lock:
            if not self._state.active:
                return 0
            copied = 0
            days = self._days()
            for i, day in enumerate(days, 1):
                if self.stopping.is_set():
                    return copied  # shutting down: the next run resumes here
                copied += self._copy_day(day)
                self._progress(f"copied day {day} ({i}/{len(days)}) to the current layout")
            for day in days:
                if self._counts(day) != (self._legacy_rows(day), self._legacy_rows(day)):
                    raise StorageError(f"day {day}: copied rows do not match; previous table kept")
            self._state.active = False
            for sql in schema.drop_previous_layout(self._topo):
                self._engine.execute(SystemStatement(sql))
            self._progress(f"previous layout retired: {copied} rows copied in this run")
            return copied

    def _local(self, table: Table) -> str:
        return self._topo.name(self._topo.storage_table(table))

    def _days(self) -> list[int]:
        db = quote(self._topo.database) if self._topo.database else "currentDatabase()"
        sql = (
            "SELECT DISTINCT partition FROM system.parts WHERE active AND "
            f"database = {db} AND table = {quote(self._topo.storage_table(Table.LEGACY))} "
            "ORDER BY partition"
        )
        days: set[int] = set()
        for server in self._servers():
            for row in self._select(server, SystemStatement(sql)).rows:
                days.add(int(str(row[0]).strip("'")))
        return sorted(days)

    def _servers(self) -> list[tuple[str, int] | None]:
        """Where the local tables are read and written: one replica per shard (replication
        copies to the others), or the engine itself."""
        shards = self._engine.shards() if self._topo.cluster else []
        return [s[0] for s in shards] if shards else [None]

    def _select(self, server: tuple[str, int] | None, stmt: SystemStatement) -> SelectResult:
        if server is None:
            return self._engine.select(stmt)
        return self._engine.select_on(server, stmt, MUTATION_TIMEOUT_S)

    def _run(self, server: tuple[str, int] | None, stmt: SystemStatement) -> None:
        if server is None:
            self._engine.execute(stmt)
        else:
            self._engine.select_on(server, stmt, MUTATION_TIMEOUT_S)

    def _count(self, server: tuple[str, int] | None, sql: str) -> int:
        return int(str(self._select(server, SystemStatement(sql)).rows[0][0]))

    def _legacy_rows(self, day: int) -> int:
        sql = f"SELECT count() FROM {self._local(Table.LEGACY)} WHERE {_DAY} = {day}"
        return sum(self._count(s, sql) for s in self._servers())

    def _counts(self, day: int) -> tuple[int, int]:
        """(rows of the previous table, rows copied) of one day, summed over the shards."""
        copied = (
            f"SELECT count() FROM {self._local(Table.SAMPLES)} WHERE migrated = 1 AND "
            f"{_DAY} = {day}"
        )
        return self._legacy_rows(day), sum(self._count(s, copied) for s in self._servers())

    def _copy_day(self, day: int) -> int:
        total = 0
        for server in self._servers():
            legacy = self._count(
                server, f"SELECT count() FROM {self._local(Table.LEGACY)} WHERE {_DAY} = {day}"
            )
            done = self._count(
                server,
                f"SELECT count() FROM {self._local(Table.SAMPLES)} WHERE migrated = 1 AND "
                f"{_DAY} = {day}",
            )
            if done == legacy:
                continue
            if done:
                self._clear(server, day)
            self._run(server, SystemStatement(self._copy_sql(day)))
            total += legacy
        return total

    def _clear(self, server: tuple[str, int] | None, day: int) -> None:
        """Remove a partial copy of one day (an interrupted run) before copying it again."""
        sql = (
            f"ALTER TABLE {self._local(Table.SAMPLES)} DELETE WHERE migrated = 1 AND {_DAY} = {day}"
        )
        self._run(server, SystemStatement(sql))
        db = quote(self._topo.database) if self._topo.database else "currentDatabase()"
        pending = SystemStatement(
            "SELECT count() FROM system.mutations WHERE is_done = 0 AND "
            f"database = {db} AND table = {quote(self._topo.storage_table(Table.SAMPLES))}"
        )
        deadline = time.monotonic() + MUTATION_TIMEOUT_S
        while int(str(self._select(server, pending).rows[0][0])):
            if time.monotonic() > deadline:
                raise StorageTimeout(f"clearing a partial copy of day {day} did not finish")
            time.sleep(0.1)

    def _copy_sql(self, day: int) -> str:
        promoted = sorted(self._layout().promoted)
        names = ["tenant_id", "metric_name", "lead_key", "lead", "timestamp_ms", "value"]
        exprs = ["tenant_id", "metric_name", "''", "''", "timestamp_ms", "value"]
        for k in promoted:
            names.append(ident(promoted_column(k)))
            exprs.append(f"arrayElement(dim_values, indexOf(dim_keys, {quote(k)}))")
        if promoted:
            keep = f"NOT has([{', '.join(quote(k) for k in promoted)}], k)"
            exprs += [
                f"arrayFilter(k -> {keep}, dim_keys)",
                f"arrayFilter((v, k) -> {keep}, dim_values, dim_keys)",
            ]
        else:
            exprs += ["dim_keys", "dim_values"]
        names += ["extra_keys", "extra_values", "migrated"]
        exprs.append("1")
        return (
            f"INSERT INTO {self._local(Table.SAMPLES)} ({', '.join(names)}) "
            f"SELECT {', '.join(exprs)} FROM {self._local(Table.LEGACY)} WHERE {_DAY} = {day}"
        )
