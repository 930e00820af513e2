"""`Storage`: every operation Luminate performs on stored points, tenant first, over one `Engine`.

It owns the SQL (through `compile.py` and `schema.py`); callers pass model objects and get model
objects back. No SQL string crosses this boundary in either direction."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from luminate.query.model import (
    AggregateRow,
    Query,
    QueryResult,
    QueryType,
    RangePoint,
    RateRow,
    TimeRange,
)
from luminate.storage import schema
from luminate.storage.compile import Layout, compile_query, promoted_column
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError, StorageTimeout, StorageUnavailable
from luminate.storage.sql import Statement, Table, quote, scan, tenant_predicate

log = logging.getLogger("luminate.storage")

SAMPLE_COLUMNS = ("tenant_id", "metric_name", "timestamp_ms", "value", "dim_keys", "dim_values")
# How long a write is retried inside one call before the request is answered 503.
_WRITE_ATTEMPTS = 3


@dataclass
class TenantPoints:
    """Validated points of one tenant, column by column; `keys[i]` and `dim_values[i]` are
    point i's dimensions in matching order (any order: series identity sorts them)."""

    tenant: str
    names: list[str] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    keys: list[list[str]] = field(default_factory=list)
    dim_values: list[list[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class MetricSummary:
    name: str
    points: int
    series: int
    first_ms: int
    last_ms: int


@dataclass(frozen=True)
class DimensionKey:
    key: str
    points: int
    values: int


@dataclass(frozen=True)
class DimensionValue:
    value: str
    points: int


@dataclass(frozen=True)
class Cardinality:
    series: int
    metrics: list[tuple[str, int]]
    keys: list[tuple[str, int]]


@dataclass(frozen=True)
class RetentionPolicy:
    tenant: str
    metric: str | None
    days: int


class Storage:
    def __init__(
        self,
        engine: Engine,
        layout: Layout,
        *,
        fsync: bool = True,
        topology: schema.Topology | None = None,
    ) -> None:
        self.engine = engine
        self.layout = layout
        self.fsync = fsync
        self.topology = topology or schema.Topology()
        self.caps = schema.check_supported(schema.parse_version(engine.version()))

    @property
    def backend(self) -> str:
        return self.engine.name

    # -- schema -------------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply every idempotent schema step; returns the statements run."""
        topo = self.topology
        self._check_cluster()
        steps = schema.base_migrations(self.caps, topo, fsync=self.fsync)
        for sql in steps:
            self.engine.execute(sql)
        existing = self._columns(schema.existing_columns(topo))
        local = None
        if topo.cluster:
            local = self._columns(schema.existing_columns(topo, topo.storage_table(Table.SAMPLES)))
        added = schema.add_promoted(self.caps, topo, self.layout, existing, local)
        for sql in added:
            self.engine.execute(sql)
        return steps + added

    def _columns(self, sql: str) -> set[str]:
        return {str(r[0]) for r in self.engine.select(sql).rows}

    def verify_schema(self) -> None:
        """Raise StorageError naming what is missing unless the tables and the cluster exist."""
        self._check_cluster()
        database = self.topology.database
        if database is not None:
            try:
                self.engine.execute(
                    "SELECT throwIf((SELECT count() FROM system.databases "
                    f"WHERE name = {quote(database)}) = 0)"
                )
            except StorageError:
                raise StorageError(
                    f"database {database!r} does not exist: run `luminate migrate`"
                ) from None
        rows = self.engine.select(schema.existing_columns(self.topology)).rows
        names = {str(r[0]) for r in rows}
        wanted = ["series_id", *map(promoted_column, sorted(self.layout.promoted))]
        missing = [c for c in wanted if c not in names]
        if missing:
            where = self.topology.database or "the default database"
            raise StorageError(
                f"schema in {where} is missing {', '.join(missing)}: run `luminate migrate`"
            )

    def _check_cluster(self) -> None:
        cluster = self.topology.cluster
        if cluster is None:
            return
        # Through execute: it runs before Luminate's database exists.
        try:
            self.engine.execute(
                "SELECT throwIf((SELECT count() FROM system.clusters "
                f"WHERE cluster = {quote(cluster)}) = 0)"
            )
        except StorageError as exc:
            raise StorageError(
                f"cluster {cluster!r} (LUMINATE_CLICKHOUSE_CLUSTER) is not in the servers' "
                f"remote_servers ({exc})"
            ) from None

    def ping(self) -> None:
        self.engine.ping()

    def close(self) -> None:
        self.engine.close()

    # -- writes -------------------------------------------------------------------------------

    def write(self, batches: Sequence[TenantPoints]) -> int:
        """Store every point of every batch in one insert, or raise. Returns points written."""
        tenants: list[str] = []
        names: list[str] = []
        stamps: list[int] = []
        values: list[float] = []
        keys: list[list[str]] = []
        dims: list[list[str]] = []
        for batch in batches:
            if not batch.tenant:
                raise StorageError("a batch without a tenant is never written")
            tenants.extend([batch.tenant] * len(batch))
            names.extend(batch.names)
            stamps.extend(batch.timestamps)
            values.extend(batch.values)
            keys.extend(batch.keys)
            dims.extend(batch.dim_values)
        if not names:
            return 0
        data: list[Sequence[Any]] = [tenants, names, stamps, values, keys, dims]
        # One token for this batch and all its retries: the engine stores it once, while an
        # identical batch sent later by a client is a new write and is stored again.
        token = uuid.uuid4().hex
        # Retrying is only safe where the engine drops a repeated insert.
        attempts = _WRITE_ATTEMPTS if self.engine.idempotent_inserts else 1
        for attempt in range(1, attempts + 1):
            try:
                self.engine.insert(Table.SAMPLES.value, SAMPLE_COLUMNS, data, token)
                return len(names)
            except StorageError as exc:
                log.warning("insert failed", extra={"attempt": attempt, "error": str(exc)})
                if attempt == attempts:
                    raise StorageUnavailable(
                        f"insert failed after {attempt} attempts: {exc}"
                    ) from exc
                time.sleep(0.05 * attempt)
        return 0  # pragma: no cover

    # -- queries ------------------------------------------------------------------------------

    def query(self, tenant: str, q: Query) -> QueryResult:
        stmt = compile_query(tenant, q, self.layout)
        result = self._select(stmt)
        rows = result.rows
        truncated = len(rows) > q.limit
        rows = rows[: q.limit]
        n_groups = len(q.group_by)
        if q.type is QueryType.RANGE:
            points = [
                RangePoint(int(ts), float(v), dict(zip(k, d, strict=True))) for ts, v, k, d in rows
            ]
            return QueryResult(points, result.rows_read, truncated)
        if q.type is QueryType.RATE:
            rates = [
                RateRow(tuple(r[:n_groups]), int(r[n_groups]), float(r[n_groups + 1])) for r in rows
            ]
            return QueryResult(rates, result.rows_read, truncated)
        aggs = [
            AggregateRow(
                tuple(r[:n_groups]),
                int(r[n_groups]) if q.interval_ms else None,
                float(r[n_groups + 1]),
                int(r[n_groups + 2]),
            )
            for r in rows
            if int(r[n_groups + 2]) > 0
        ]
        # The engine may answer a count from part metadata; never report fewer points scanned
        # than were aggregated.
        scanned = max(result.rows_read, sum(a.count for a in aggs))
        return QueryResult(aggs, scanned, truncated)

    def _select(self, stmt: Statement) -> Any:
        try:
            return self.engine.select(stmt.sql, stmt.settings)
        except StorageTimeout:
            raise
        except StorageError:
            log.error("statement failed", extra={"sql": stmt.sql[:500]})
            raise

    # -- discovery ----------------------------------------------------------------------------

    def _scope(self, tenant: str, metric: str | None, window: TimeRange | None) -> str:
        conds = []
        if metric is not None:
            conds.append(f"metric_name = {quote(metric)}")
        if window is not None:
            conds += [f"timestamp_ms >= {window.start_ms}", f"timestamp_ms < {window.end_ms}"]
        return scan(Table.SAMPLES, tenant, conds)

    def metrics(
        self, tenant: str, window: TimeRange | None, limit: int
    ) -> tuple[list[MetricSummary], bool]:
        sql = (
            "SELECT metric_name, count(), uniq(series_id), min(timestamp_ms), max(timestamp_ms) "
            f"{self._scope(tenant, None, window)} "
            f"GROUP BY metric_name ORDER BY metric_name LIMIT {limit + 1}"
        )
        rows = self._select(Statement(sql, tenant)).rows
        out = [MetricSummary(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]
        return out[:limit], len(out) > limit

    def dimension_keys(
        self, tenant: str, metric: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionKey], bool]:
        sql = (
            "SELECT k, count(), uniq(v) FROM (SELECT dim_keys, dim_values "
            f"{self._scope(tenant, metric, window)}) "
            f"ARRAY JOIN dim_keys AS k, dim_values AS v GROUP BY k ORDER BY k LIMIT {limit + 1}"
        )
        rows = self._select(Statement(sql, tenant)).rows
        out = [DimensionKey(str(r[0]), int(r[1]), int(r[2])) for r in rows]
        return out[:limit], len(out) > limit

    def dimension_values(
        self, tenant: str, metric: str, key: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionValue], bool]:
        scope = self._scope(tenant, metric, window)
        sql = (
            f"SELECT {self.layout.dimension(key)} AS v, count() AS c "
            f"{scope} AND {self.layout.has_dimension(key)} "
            f"GROUP BY v ORDER BY c DESC, v LIMIT {limit + 1}"
        )
        rows = self._select(Statement(sql, tenant)).rows
        out = [DimensionValue(str(r[0]), int(r[1])) for r in rows]
        return out[:limit], len(out) > limit

    def cardinality(self, tenant: str, window: TimeRange | None, top: int) -> Cardinality:
        scope = self._scope(tenant, None, window)
        total = self._select(Statement(f"SELECT uniq(metric_name, series_id) {scope}", tenant))
        metrics = self._select(
            Statement(
                f"SELECT metric_name, uniq(series_id) AS s {scope} "
                f"GROUP BY metric_name ORDER BY s DESC, metric_name LIMIT {top}",
                tenant,
            )
        )
        keys = self._select(
            Statement(
                f"SELECT k, uniq(v) AS s FROM (SELECT dim_keys, dim_values {scope}) "
                f"ARRAY JOIN dim_keys AS k, dim_values AS v GROUP BY k ORDER BY s DESC, k "
                f"LIMIT {top}",
                tenant,
            )
        )
        return Cardinality(
            series=int(total.rows[0][0]) if total.rows else 0,
            metrics=[(str(r[0]), int(r[1])) for r in metrics.rows],
            keys=[(str(r[0]), int(r[1])) for r in keys.rows],
        )

    # -- admin --------------------------------------------------------------------------------

    def delete_before(
        self, tenant: str, metric: str | None, before_ms: int, exclude: Sequence[str] = ()
    ) -> None:
        """Delete the tenant's points older than `before_ms` (of one metric, or all but
        `exclude`). Returns once the engine has applied the deletion."""
        conds = [f"timestamp_ms < {before_ms}"]
        if metric is not None:
            conds.insert(0, f"metric_name = {quote(metric)}")
        if exclude:
            conds.append(f"metric_name NOT IN ({', '.join(quote(m) for m in exclude)})")
        where = " AND ".join([tenant_predicate(tenant), *conds])
        topo = self.topology
        table = topo.name(topo.storage_table(Table.SAMPLES))
        stmt = Statement(f"ALTER TABLE {table}{topo.on_cluster()} DELETE WHERE {where}", tenant)
        self.engine.execute(stmt.sql)
        self._wait_for_mutations(topo.storage_table(Table.SAMPLES))

    def _wait_for_mutations(self, table: str, timeout_s: float = 300.0) -> None:
        """Mutations are asynchronous on every server version; wait until this host has none
        left for the table (`mutations_sync` is not known to older servers)."""
        db = quote(self.topology.database) if self.topology.database else "currentDatabase()"
        sql = (
            "SELECT count() FROM system.mutations "
            f"WHERE database = {db} AND table = {quote(table)} AND is_done = 0"
        )
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while self.engine.select(sql).rows[0][0]:
            if time.monotonic() > deadline:
                raise StorageTimeout(f"deletion still running after {timeout_s:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def set_retention(self, tenant: str, metric: str | None, days: int) -> None:
        now = time.time_ns() // 1_000_000
        self.engine.insert(
            Table.RETENTION.value,
            ("tenant_id", "metric_name", "days", "updated_ms"),
            [[tenant], [metric or ""], [days], [now]],
            uuid.uuid4().hex,
        )

    def retention_policies(self, tenant: str) -> list[RetentionPolicy]:
        sql = (
            f"SELECT metric_name, argMax(days, updated_ms) {scan(Table.RETENTION, tenant)} "
            "GROUP BY metric_name ORDER BY metric_name"
        )
        rows = self._select(Statement(sql, tenant)).rows
        return [RetentionPolicy(tenant, str(r[0]) or None, int(r[1])) for r in rows]

    def tenants_with_retention(self) -> list[str]:
        """Maintenance only: which tenants have a retention policy (no data is read)."""
        rows = self.engine.select(
            f"SELECT DISTINCT tenant_id FROM {Table.RETENTION.value} ORDER BY tenant_id"
        ).rows
        return [str(r[0]) for r in rows]
