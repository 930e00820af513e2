"""Backups of current ClickHouse servers with `BACKUP ... ON CLUSTER ... TO S3(...)`: one
backup covering every shard once (the servers pick one replica per shard and write to S3
themselves).

NOT RUN HERE: the only server installable on the build machine is 18.16, which has no BACKUP
statement. The statements are built by `builtin.py` and checked by unit tests; the embedded
engine runs the same BACKUP / RESTORE code path for real.

Verification restores into a scratch database of plain MergeTree tables created ON CLUSTER
(`definitions.py`), so it never touches the live tables or their ZooKeeper paths. Restore first
verifies the backup the same way, then restores into the live tables with RESTORE ON CLUSTER
into the existing tables (`luminate migrate` creates them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from luminate.backup import builtin, maintenance, promoted
from luminate.backup.definitions import scratch_create
from luminate.backup.embedded import check_empty, check_schema
from luminate.backup.fingerprint import by_partition, part_sums, stored
from luminate.backup.manifest import Manifest, PartitionSum, Strategy
from luminate.backup.progress import Progress
from luminate.storage.engine import Engine
from luminate.storage.schema import Topology
from luminate.storage.sql import Table, ident

# Restore into tables that already exist and may differ in settings (not columns: the schema
# check runs first).
_INTO_EXISTING: dict[str, str | int] = {
    "restore_table_creation_mode": "must-exist",
    "allow_different_table_def": 1,
}


@dataclass
class ClusterBackend:
    engine: Engine
    copier: builtin.BuiltinBackup
    topology: Topology
    name: str = "clickhouse"
    strategy: Strategy = Strategy.ENGINE

    @property
    def database(self) -> str:
        return self.topology.database or "default"

    @property
    def cluster(self) -> str:
        return self.topology.cluster or ""

    def target(self, database: str | None = None) -> builtin.Target:
        tables = [self.topology.storage_table(t) for t in (Table.SAMPLES, Table.RETENTION)]

        def select(sql: str) -> list[list[object]]:
            return maintenance.rows(self.engine, sql)

        return builtin.Target(
            database or self.database,
            tables,
            self.topology.cluster,
            select,
            maintenance.runner(self.engine),
        )

    def capture(self, backup_id: str, progress: Progress) -> builtin.Captured:
        return self.copier.capture(self.target(), backup_id, progress)

    def verify(self, manifest: Manifest, progress: Progress) -> list[PartitionSum]:
        scratch = self.target(f"luminate_verify_{uuid.uuid4().hex[:12]}")
        on_cluster = f" ON CLUSTER {ident(self.cluster)}" if self.cluster else ""
        maintenance.run(self.engine, f"CREATE DATABASE {ident(scratch.database)}{on_cluster}")
        try:
            for table in manifest.tables:
                maintenance.run(
                    self.engine, scratch_create(table.create, scratch.database, scratch.cluster)
                )
            self._restore_into(scratch, manifest, progress)
            return self._sums(scratch, manifest)
        finally:
            maintenance.run(
                self.engine, f"DROP DATABASE IF EXISTS {ident(scratch.database)}{on_cluster}"
            )

    def restore(self, manifest: Manifest, force: bool, progress: Progress) -> list[PartitionSum]:
        live = self.target()
        topo = Topology(database=live.database, cluster=self.cluster or None)
        added = promoted.add_backup_columns(live.select, live.execute, topo, manifest)
        if added:
            progress.step(f"dimension columns added to the live tables: {', '.join(added)}")
        check_schema(live.select, live.database, manifest)
        check_empty(live.select, live.database, manifest, force)
        from luminate.backup.service import verify  # noqa: PLC0415  (service imports backends)

        verify(self, manifest, progress)
        on_cluster = f" ON CLUSTER {ident(self.cluster)}" if self.cluster else ""
        if force:
            for table in live.tables:
                maintenance.run(
                    self.engine, f"TRUNCATE TABLE {ident(live.database)}.{ident(table)}{on_cluster}"
                )
        self._restore_into(live, manifest, progress)
        return self._sums(live, manifest)

    def _restore_into(self, target: builtin.Target, manifest: Manifest, progress: Progress) -> None:
        operation = f"luminate-restore-{manifest.id}-{uuid.uuid4().hex[:8]}"
        source = builtin.destination(
            self.copier.store.location, self.copier.credentials, manifest.id
        )
        progress.step(f"RESTORE {manifest.id} into {target.database}")
        maintenance.run(
            self.engine,
            builtin.restore_sql(
                target, manifest.database, source, operation, self.copier.attempts, _INTO_EXISTING
            ),
        )
        builtin.wait(target.select, operation, "RESTORE", progress, self.copier.timeout_s)

    def _sums(self, target: builtin.Target, manifest: Manifest) -> list[PartitionSum]:
        shards = sorted({p.shard for p in manifest.partitions}) or [0]
        out: list[PartitionSum] = []
        for table in manifest.tables:
            cols = stored(table.columns)
            for shard in shards:
                select = builtin.shard_select(target, shard)
                out += by_partition(
                    table.name, shard, part_sums(select, target.database, table.name, cols)
                )
        return out

    def close(self) -> None:
        self.engine.close()
