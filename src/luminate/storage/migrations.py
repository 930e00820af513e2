"""The schema's lifecycle: create or align the tables (idempotent), move a table of the previous
layout aside for its rows to be copied (`storage/legacy.py`), and check that a server's schema is
in place before serving from it."""

from __future__ import annotations

from luminate.storage import membership, schema, series_state
from luminate.storage.compile import promoted_column
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError
from luminate.storage.legacy import LegacyState
from luminate.storage.promotion import MAX_PROMOTED, Promotions
from luminate.storage.sql import SystemStatement, Table, quote
from luminate.storage.writes import BATCH_COLUMN


class Migrations:
    def __init__(
        self,
        engine: Engine,
        caps: schema.Capabilities,
        topology: schema.Topology,
        configured: frozenset[str],
        promotions: Promotions,
        legacy: LegacyState,
    ) -> None:
        self._engine = engine
        self._caps = caps
        self._topology = topology
        self._configured = configured
        self._promotions = promotions
        self._legacy = legacy

    def migrate(self, *, fsync: bool, journaled: bool = False) -> list[str]:
        """Apply every idempotent schema step; returns the statements run. A table of the
        previous layout is renamed to `samples_legacy` (its rows are copied afterwards, by
        `LegacyCopy`); its dimension keys are promoted in the new table."""
        topo = self._topology
        self.check_cluster()
        ran = self._run(schema.create_database(topo))
        current = self._columns(topo.storage_table(Table.SAMPLES))
        previous = self._columns(topo.storage_table(Table.LEGACY))
        if current and schema.LAYOUT_MARKER not in current:
            if previous:
                raise StorageError(
                    "both samples (previous layout) and samples_legacy exist: finish or remove "
                    "the earlier migration's samples_legacy first"
                )
            ran += self._run(schema.retire_previous_layout(topo))
            previous = current
        self._legacy.columns = frozenset(previous)
        self._legacy.active = bool(previous)
        keys = set(self._configured)
        if previous:
            keys |= self._legacy_keys()
        wanted = [schema.Promoted(k) for k in sorted(keys)][:MAX_PROMOTED]
        steps = schema.base_migrations(self._caps, topo, fsync=fsync, promoted=wanted)
        # Coordination tables; `verify` does not require them: without them a process serves
        # with local limits and says so.
        steps += membership.create_statements(topo) + series_state.create_statements(topo)
        ran += self._run(steps[len(schema.create_database(topo)) :])
        self._promotions.load()
        have = self._promotions.promoted
        adding = [p for p in wanted if p.key not in have]
        after = sorted({*have, *(p.key for p in adding)})
        ran += self._run(schema.add_promoted(self._caps, topo, adding, after))
        self._promotions.load()
        if journaled:
            ran += self._run(self._batch_column(topo))
        return ran

    def _batch_column(self, topo: schema.Topology) -> list[str]:
        sql = schema.existing_columns(topo, fields=("name", "compression_codec"))
        codecs = {str(r[0]): str(r[1]) for r in self._engine.select(SystemStatement(sql)).rows}
        if BATCH_COLUMN not in codecs:
            return [schema.add_batch_column(self._caps, topo, BATCH_COLUMN)]
        if schema.BATCH_CODEC not in codecs[BATCH_COLUMN]:
            return schema.compress_batch_column(self._caps, topo, BATCH_COLUMN)
        return []

    def _run(self, steps: list[str]) -> list[str]:
        for sql in steps:
            self._engine.execute(SystemStatement(sql))
        return steps

    def _columns(self, table: str) -> set[str]:
        sql = schema.existing_columns(self._topology, table)
        return {str(r[0]) for r in self._engine.select(SystemStatement(sql)).rows}

    def _legacy_keys(self) -> set[str]:
        table = self._topology.name(Table.LEGACY.value)
        sql = f"SELECT DISTINCT arrayJoin(dim_keys) FROM {table} LIMIT {MAX_PROMOTED + 1}"
        return {str(r[0]) for r in self._engine.select(SystemStatement(sql)).rows}

    def verify(self) -> None:
        """Raise StorageError naming what is missing unless the tables and the cluster exist;
        then learn the promoted columns and whether a previous layout is still being copied."""
        self.check_cluster()
        database = self._topology.database
        if database is not None:
            try:
                self._engine.execute(
                    SystemStatement(
                        "SELECT throwIf((SELECT count() FROM system.databases "
                        f"WHERE name = {quote(database)}) = 0)"
                    )
                )
            except StorageError:
                raise StorageError(
                    f"database {database!r} does not exist: run `luminate migrate`"
                ) from None
        names = self._columns(Table.SAMPLES.value)
        wanted = [schema.LAYOUT_MARKER, "series_id"]
        wanted += [promoted_column(k) for k in sorted(self._configured)]
        missing = [c for c in wanted if c not in names]
        if missing:
            where = database or "the default database"
            raise StorageError(
                f"schema in {where} is missing {', '.join(missing)}: run `luminate migrate`"
            )
        previous = self._columns(self._topology.storage_table(Table.LEGACY))
        self._legacy.columns = frozenset(previous)
        self._legacy.active = bool(previous)
        self._promotions.load()

    def check_cluster(self) -> None:
        cluster = self._topology.cluster
        if cluster is None:
            return
        # Through execute: it runs before Luminate's database exists.
        try:
            self._engine.execute(
                SystemStatement(
                    "SELECT throwIf((SELECT count() FROM system.clusters "
                    f"WHERE cluster = {quote(cluster)}) = 0)"
                )
            )
        except StorageError as exc:
            raise StorageError(
                f"cluster {cluster!r} (LUMINATE_CLICKHOUSE_CLUSTER) is not in the servers' "
                f"remote_servers ({exc})"
            ) from None
