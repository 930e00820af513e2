"""Backups through the engine's own BACKUP / RESTORE statements, written straight to S3 by the
engine: the embedded engine (chDB) and current ClickHouse servers (`ON CLUSTER`, one backup
covering every shard once).

Consistency: BACKUP copies the parts that were active when it started, so every point
acknowledged before the backup began is in it. Merges are stopped on the backed-up tables for
the duration, so the captured parts stay active and the engine can compute their row counts and
checksums afterwards (`fingerprint.py`); inserts go on as usual."""

from __future__ import annotations

import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from luminate.backup.errors import BackupError, ManifestError
from luminate.backup.fingerprint import Select, by_partition, columns, part_sums, stored
from luminate.backup.manifest import PartitionSum, StoredObject, TableDef
from luminate.backup.objects import Credentials, Location, ObjectStore
from luminate.backup.progress import Progress
from luminate.storage.sql import ident, quote

Execute = Callable[[str], None]
ENGINE_DIR = "engine"
# Where the engine's index of a backup lives, relative to the backup's directory.
INDEX = f"{ENGINE_DIR}/.backup"
_INDEX_MAX_BYTES = 256 * 1024 * 1024
_ENTRY = re.compile(
    r"^(?:shards/(?P<shard>\d+)/replicas/(?P<replica>\d+)/)?"
    r"data/(?P<database>[^/]+)/(?P<table>[^/]+)/(?P<part>[^/]+)/[^/]+$"
)
_POLL_S = 0.2


@dataclass(frozen=True)
class Target:
    """The tables a backup covers, where they live, and how to reach the engine."""

    database: str
    tables: Sequence[str]
    cluster: str | None
    select: Select
    execute: Execute


@dataclass
class Captured:
    server_version: str
    tables: list[TableDef]
    partitions: list[PartitionSum]
    size_bytes: int
    rows: int
    objects: list[StoredObject] = field(default_factory=list)


def destination(location: Location, credentials: Credentials | None, backup_id: str) -> str:
    """The S3(...) clause of a backup; without key files the engine uses its own credentials
    (the server's role or environment)."""
    url = quote(location.url(location.key(backup_id, ENGINE_DIR)) + "/")
    if credentials is None:
        return f"S3({url})"
    return f"S3({url}, {quote(credentials.access_key_id)}, {quote(credentials.secret_access_key)})"


def _on_cluster(cluster: str | None) -> str:
    return f" ON CLUSTER {ident(cluster)}" if cluster else ""


def _settings(operation_id: str, attempts: int, extra: dict[str, str | int] | None = None) -> str:
    values: dict[str, str | int] = {
        "id": operation_id,
        # The engine's default is to retry S3 for a very long time; a failed backup has to
        # be reported while the job still runs.
        "backup_restore_s3_retry_attempts": attempts,
        "backup_restore_s3_retry_max_backoff_ms": 2000,
        **(extra or {}),
    }
    rendered = ", ".join(
        f"{k} = {quote(v) if isinstance(v, str) else v}" for k, v in values.items()
    )
    return f" SETTINGS {rendered}"


def backup_sql(target: Target, dest: str, operation_id: str, attempts: int) -> str:
    tables = ", ".join(f"TABLE {ident(target.database)}.{ident(t)}" for t in target.tables)
    return (
        f"BACKUP {tables}{_on_cluster(target.cluster)} TO {dest}"
        f"{_settings(operation_id, attempts)} ASYNC"
    )


def restore_sql(
    target: Target,
    source_database: str,
    dest: str,
    operation_id: str,
    attempts: int,
    extra: dict[str, str | int] | None = None,
) -> str:
    """RESTORE each table of `source_database` in the backup as `target.database`.table."""
    tables = ", ".join(
        f"TABLE {ident(source_database)}.{ident(t)} AS {ident(target.database)}.{ident(t)}"
        for t in target.tables
    )
    return (
        f"RESTORE {tables}{_on_cluster(target.cluster)} FROM {dest}"
        f"{_settings(operation_id, attempts, extra)} ASYNC"
    )


def merges_sql(target: Target, start: bool) -> list[str]:
    verb = "START" if start else "STOP"
    return [
        f"SYSTEM {verb} MERGES{_on_cluster(target.cluster)} {ident(target.database)}.{ident(t)}"
        for t in target.tables
    ]


def wait(
    select: Select, operation_id: str, what: str, progress: Progress, timeout_s: float
) -> tuple[int, int]:
    """Poll system.backups until the operation ends; returns (files, bytes) or raises."""
    deadline = time.monotonic() + timeout_s
    sql = (
        "SELECT status, num_files, total_size, error FROM system.backups "
        f"WHERE id = {quote(operation_id)}"
    )
    while True:
        rows = select(sql)
        if rows:
            status, files, size, error = (
                str(rows[0][0]),
                int(rows[0][1]),
                int(rows[0][2]),
                rows[0][3],
            )
            if status.endswith("_FAILED") or status.endswith("_CANCELLED"):
                first = str(error).strip().splitlines()[0] if error else status
                raise BackupError(f"{what} failed in the engine: {short(first)}")
            if status in {"BACKUP_CREATED", "RESTORED"}:
                return files, size
            progress.advance(size, 0, "bytes")
        if time.monotonic() > deadline:
            raise BackupError(f"{what} still running after {timeout_s:g} s")
        time.sleep(_POLL_S)


def short(message: str) -> str:
    """An engine error without the stack trace and build details it appends."""
    # The engine appends a stack trace and build details after the reason.
    message = message.split(", Stack trace", maxsplit=1)[0].split(" (version ", maxsplit=1)[0]
    message = message.split(" [statement: ", maxsplit=1)[0]
    message = message.split(": While reading or decompressing", maxsplit=1)[0].strip()
    return message.splitlines()[0][:400] if message else "unknown engine error"


def captured_parts(index: bytes) -> dict[tuple[int, str, str], set[str]]:
    """(shard, database, table) -> part names, from the engine's `.backup` index."""
    try:
        root = ET.fromstring(index)  # noqa: S314  (our own bucket's object, size-capped)
    except ET.ParseError as exc:
        raise ManifestError(f"the engine's backup index is unreadable ({exc})") from None
    parts: dict[tuple[int, str, str], set[str]] = {}
    for name in root.iterfind("./contents/file/name"):
        match = _ENTRY.match(name.text or "")
        if match:
            key = (int(match["shard"] or 0), match["database"], match["table"])
            parts.setdefault(key, set()).add(match["part"])
    return parts


@dataclass
class BuiltinBackup:
    """BACKUP / RESTORE of `target` to and from the backups in `store`."""

    store: ObjectStore
    credentials: Credentials | None
    attempts: int = 5
    timeout_s: float = 6 * 3600

    def capture(self, target: Target, backup_id: str, progress: Progress) -> Captured:
        version = str(target.select("SELECT version()")[0][0])
        defs = [self._table_def(target, t) for t in target.tables]
        dest = destination(self.store.location, self.credentials, backup_id)
        operation = f"luminate-{backup_id}-{uuid.uuid4().hex[:8]}"
        progress.step(f"BACKUP of {', '.join(target.tables)} to {self.store.location.describe()}")
        # On a server, a paused merge outlives the client that paused it: a run killed before its
        # `finally` would leave merges off, so each run first undoes that (runs never overlap).
        for sql in merges_sql(target, start=True) + merges_sql(target, start=False):
            target.execute(sql)
        try:
            target.execute(backup_sql(target, dest, operation, self.attempts))
            files, size = wait(target.select, operation, "BACKUP", progress, self.timeout_s)
            progress.step(f"BACKUP wrote {files} files, {size} bytes; computing checksums")
            index = self.store.get(f"{backup_id}/{INDEX}", max_bytes=_INDEX_MAX_BYTES)
            partitions = self._sums(target, defs, captured_parts(index))
        finally:
            for sql in merges_sql(target, start=True):
                target.execute(sql)
        return Captured(
            server_version=version,
            tables=defs,
            partitions=partitions,
            size_bytes=size,
            rows=sum(p.rows for p in partitions),
        )

    def _table_def(self, target: Target, table: str) -> TableDef:
        create = str(
            target.select(f"SHOW CREATE TABLE {ident(target.database)}.{ident(table)}")[0][0]
        )
        return TableDef(table, create, columns(target.select, target.database, table))

    def _sums(
        self,
        target: Target,
        defs: Sequence[TableDef],
        parts: dict[tuple[int, str, str], set[str]],
    ) -> list[PartitionSum]:
        out: list[PartitionSum] = []
        for table in defs:
            cols = stored(table.columns)
            shards = sorted(
                {s for (s, db, t) in parts if db == target.database and t == table.name}
            )
            for shard in shards:
                names = parts[(shard, target.database, table.name)]
                try:
                    sums = part_sums(
                        shard_select(target, shard), target.database, table.name, cols, names
                    )
                except LookupError as exc:
                    raise BackupError(f"parts changed while merges were stopped: {exc}") from None
                out += by_partition(table.name, shard, sums)
        return out


def shard_select(target: Target, shard: int) -> Select:
    """Queries of one shard: the local engine, or through `cluster()` in a cluster."""
    if not target.cluster or shard == 0:
        return target.select
    return _ShardSelect(target, shard)


@dataclass(frozen=True)
class _ShardSelect:
    """Runs a fingerprint query on one shard through `cluster()`, filtered on `_shard_num`.
    Reads prefer replicas in configuration order (the engine's read settings), so the parts
    listing and the sums come from the same replica. (Current servers only.)"""

    target: Target
    shard: int

    def __call__(self, sql: str) -> list[list[object]]:
        cluster = quote(self.target.cluster or "")
        db = self.target.database
        sql = sql.replace("FROM system.parts WHERE", f"FROM cluster({cluster}, system.parts) WHERE")
        pattern = re.compile(rf"FROM {re.escape(ident(db))}\.`([A-Za-z0-9_]+)`")
        sql = pattern.sub(lambda m: f"FROM cluster({cluster}, {quote(db)}, {quote(m[1])})", sql)
        shard = f"_shard_num = {self.shard}"
        if " WHERE " in sql:
            sql = sql.replace(" WHERE ", f" WHERE {shard} AND ", 1)
        else:
            sql = sql.replace(" GROUP BY ", f" WHERE {shard} GROUP BY ", 1)
        return [list(r) for r in self.target.select(sql)]
