"""Backups of the embedded store: the engine's BACKUP to S3, verified in a scratch instance
(`scratch.py`), restored through a staging database.

Restore never touches the live tables until the restored copy matches the manifest: the backup
is restored into a staging database of the same engine, compared, and only then its partitions
are attached to the live tables (`ATTACH PARTITION ... FROM`, hard links, no copy)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from luminate.backup import builtin, maintenance, promoted, scratch
from luminate.backup.errors import BackupError, SchemaMismatch, TargetNotEmpty, VerificationFailed
from luminate.backup.fingerprint import (
    Select,
    by_partition,
    columns,
    differences,
    part_sums,
    schema_differences,
    stored,
)
from luminate.backup.manifest import Manifest, PartitionSum, Strategy
from luminate.backup.progress import Progress
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError
from luminate.storage.schema import Topology
from luminate.storage.sql import Table, ident, quote

TABLES = (Table.SAMPLES.value, Table.RETENTION.value)


def _rows(engine: Engine) -> Select:
    def select(sql: str) -> list[list[object]]:
        return maintenance.rows(engine, sql)

    return select


@dataclass
class EmbeddedBackend:
    """`engine` is None where only verification runs (it needs no engine of this process)."""

    engine: Engine | None
    copier: builtin.BuiltinBackup
    name: str = "embedded"
    strategy: Strategy = Strategy.ENGINE
    cluster: str = ""

    @property
    def live(self) -> Engine:
        if self.engine is None:
            raise BackupError("this step needs the embedded store open")
        return self.engine

    @property
    def database(self) -> str:
        return str(maintenance.rows(self.live, "SELECT currentDatabase()")[0][0])

    def target(self, database: str | None = None) -> builtin.Target:
        return builtin.Target(
            database or self.database, TABLES, None, _rows(self.live), maintenance.runner(self.live)
        )

    def capture(self, backup_id: str, progress: Progress) -> builtin.Captured:
        return self.copier.capture(self.target(), backup_id, progress)

    def verify(self, manifest: Manifest, progress: Progress) -> list[PartitionSum]:
        return verify_in_scratch(self.copier, manifest, progress)

    def restore(self, manifest: Manifest, force: bool, progress: Progress) -> list[PartitionSum]:
        live = self.target()
        added = promoted.add_backup_columns(
            live.select, live.execute, Topology(database=live.database), manifest
        )
        if added:
            progress.step(f"dimension columns added to the live table: {', '.join(added)}")
        check_schema(live.select, live.database, manifest)
        check_empty(live.select, live.database, manifest, force)
        staging = self.target(f"luminate_restore_{uuid.uuid4().hex[:12]}")
        maintenance.run(self.live, f"CREATE DATABASE {ident(staging.database)}")
        try:
            progress.step(f"RESTORE {manifest.id} into staging database {staging.database}")
            operation = f"luminate-restore-{manifest.id}-{uuid.uuid4().hex[:8]}"
            source = builtin.destination(
                self.copier.store.location, self.copier.credentials, manifest.id
            )
            maintenance.run(
                self.live,
                builtin.restore_sql(
                    staging, manifest.database, source, operation, self.copier.attempts
                ),
            )
            try:
                builtin.wait(staging.select, operation, "RESTORE", progress, self.copier.timeout_s)
                progress.step("comparing the staged copy with the manifest")
                staged = sums(staging, manifest)
            except (StorageError, BackupError) as exc:
                raise VerificationFailed(
                    f"backup {manifest.id} could not be read back ({builtin.short(str(exc))}); "
                    "live data untouched"
                ) from None
            problems = differences(manifest.partitions, staged)
            if problems:
                raise VerificationFailed(
                    f"backup {manifest.id} does not match its manifest; live data untouched: "
                    + "; ".join(problems[:5])
                )
            progress.step("attaching the staged partitions to the live tables")
            _match_dimension_columns(self.live, live, staging, manifest)
            for table in live.tables:
                if force:
                    maintenance.run(
                        self.live, f"TRUNCATE TABLE {ident(live.database)}.{ident(table)}"
                    )
                for partition in partitions_of(staging, table):
                    maintenance.run(
                        self.live,
                        f"ALTER TABLE {ident(live.database)}.{ident(table)} ATTACH PARTITION ID "
                        f"{quote(partition)} FROM {ident(staging.database)}.{ident(table)}",
                    )
        finally:
            maintenance.run(self.live, f"DROP DATABASE IF EXISTS {ident(staging.database)}")
        return sums(live, manifest)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


def verify_in_scratch(
    backup: builtin.BuiltinBackup, manifest: Manifest, progress: Progress
) -> list[PartitionSum]:
    progress.step(f"restoring {manifest.id} into a scratch embedded instance")
    request = scratch.Request(
        source=builtin.destination(backup.store.location, backup.credentials, manifest.id),
        database=manifest.database,
        tables=[t.name for t in manifest.tables],
        attempts=backup.attempts,
        timeout_s=backup.timeout_s,
    )
    return scratch.run(request, backup.timeout_s + 60)


def sums(target: builtin.Target, manifest: Manifest) -> list[PartitionSum]:
    out: list[PartitionSum] = []
    for table in manifest.tables:
        cols = stored(table.columns)
        out += by_partition(
            table.name, 0, part_sums(target.select, target.database, table.name, cols)
        )
    return out


def partitions_of(target: builtin.Target, table: str) -> list[str]:
    rows = target.select(
        "SELECT DISTINCT partition_id FROM system.parts WHERE active AND "
        f"database = {quote(target.database)} AND table = {quote(table)}"
    )
    return sorted(str(r[0]) for r in rows)


def check_schema(select: Select, database: str, manifest: Manifest) -> None:
    """Refuse a backup whose tables differ from the live ones, but for dimension columns the
    live table has and the backup lacks (its rows hold no value there)."""
    problems = []
    for table in manifest.tables:
        here = columns(select, database, table.name)
        extra = {c.name for c in promoted.extra_here(table.columns, here)}
        here = [c for c in here if c.name not in extra]
        if here:
            problems += schema_differences(table.columns, here, table.name)
    if problems:
        raise SchemaMismatch(
            f"backup {manifest.id} (schema {manifest.schema_version}) does not match the tables "
            f"here: {'; '.join(problems)}"
        )


def _match_dimension_columns(
    engine: Engine, live: builtin.Target, staging: builtin.Target, manifest: Manifest
) -> None:
    """Partitions attach only between tables of the same columns: the staged copy gets the
    live table's dimension columns the backup lacks (empty, as for rows written before a key
    had its column)."""
    for table in manifest.tables:
        here = columns(live.select, live.database, table.name)
        for c in promoted.extra_here(table.columns, here):
            maintenance.run(
                engine,
                f"ALTER TABLE {ident(staging.database)}.{ident(table.name)} "
                f"ADD COLUMN {ident(c.name)} {c.type}",
            )


def check_empty(select: Select, database: str, manifest: Manifest, force: bool) -> None:
    if force:
        return
    full = []
    for table in manifest.tables:
        rows = select(
            "SELECT sum(rows) FROM system.parts WHERE active AND "
            f"database = {quote(database)} AND table = {quote(table.name)}"
        )
        if rows and rows[0][0] and int(str(rows[0][0])) > 0:
            full.append(f"{table.name} ({rows[0][0]} rows)")
    if full:
        raise TargetNotEmpty(
            f"refusing to restore over non-empty tables: {', '.join(full)}; "
            "pass --force to replace their contents with the backup"
        )
