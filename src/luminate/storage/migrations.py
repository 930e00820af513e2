"""The schema's lifecycle: create or align the tables (idempotent), and check that a server's
schema is in place before serving from it."""

from __future__ import annotations

from luminate.storage import membership, schema, series_state
from luminate.storage.compile import Layout, promoted_column
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError
from luminate.storage.sql import SystemStatement, Table, quote
from luminate.storage.writes import BATCH_COLUMN


class Migrations:
    def __init__(
        self, engine: Engine, caps: schema.Capabilities, topology: schema.Topology, layout: Layout
    ) -> None:
        self._engine = engine
        self._caps = caps
        self._topology = topology
        self._layout = layout

    def migrate(self, *, fsync: bool, journaled: bool = False) -> list[str]:
        """Apply every idempotent schema step; returns the statements run."""
        topo = self._topology
        self.check_cluster()
        steps = schema.base_migrations(self._caps, topo, fsync=fsync)
        # Coordination tables; `verify` does not require them: without them a process serves
        # with local limits and says so.
        steps += membership.create_statements(topo) + series_state.create_statements(topo)
        for sql in steps:
            self._engine.execute(SystemStatement(sql))
        existing = self._columns(schema.existing_columns(topo))
        local = None
        if topo.cluster:
            local = self._columns(schema.existing_columns(topo, topo.storage_table(Table.SAMPLES)))
        added = schema.add_promoted(self._caps, topo, self._layout, existing, local)
        if journaled and BATCH_COLUMN not in existing:
            added.append(schema.add_batch_column(topo, BATCH_COLUMN))
        for sql in added:
            self._engine.execute(SystemStatement(sql))
        return steps + added

    def _columns(self, sql: str) -> set[str]:
        return {str(r[0]) for r in self._engine.select(SystemStatement(sql)).rows}

    def verify(self) -> None:
        """Raise StorageError naming what is missing unless the tables and the cluster exist."""
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
        names = self._columns(schema.existing_columns(self._topology))
        wanted = ["series_id", *map(promoted_column, sorted(self._layout.promoted))]
        missing = [c for c in wanted if c not in names]
        if missing:
            where = database or "the default database"
            raise StorageError(
                f"schema in {where} is missing {', '.join(missing)}: run `luminate migrate`"
            )

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
