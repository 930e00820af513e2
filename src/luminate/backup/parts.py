"""What the agent does on its own host, beside its ClickHouse server and with its data
directory mounted: freeze tables and upload the frozen parts, download parts into a staging
table's `detached/` and attach them, move verified parts into the live tables.

ALTER TABLE ... FREEZE snapshots only the server it runs on, into that server's `shadow/`
directory, which is why this runs next to the server and not in a remote client."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from luminate.backup.errors import BackupError
from luminate.backup.fingerprint import (
    Select,
    active_parts_sql,
    by_partition,
    columns,
    part_sums,
    stored,
)
from luminate.backup.manifest import PartitionSum, StoredObject, TableDef
from luminate.backup.objects import ObjectStore
from luminate.backup.progress import Progress
from luminate.storage.sql import ident, quote

Execute = Callable[[str], None]
_FREEZE_ATTEMPTS = 3


@dataclass(frozen=True)
class Server:
    """The local ClickHouse server, as the agent reaches it."""

    select: Select
    execute: Execute

    def data_path(self, database: str, table: str) -> Path:
        rows = self.select(
            "SELECT data_path FROM system.tables "
            f"WHERE database = {quote(database)} AND name = {quote(table)}"
        )
        if not rows or not rows[0][0]:
            raise BackupError(f"table {database}.{table} does not exist on this server")
        path = Path(str(rows[0][0]))
        if not path.is_dir():
            raise BackupError(
                f"{path} (data of {database}.{table}) is not mounted here: the agent must see "
                "the server's data directory at the same path"
            )
        return path

    def root(self, database: str, table: str) -> Path:
        """The server's data root: `<root>/data/<database>/<table>/`."""
        return self.data_path(database, table).parents[2]


@dataclass
class Snapshot:
    table: TableDef
    partitions: list[PartitionSum]
    objects: list[StoredObject]


def snapshot(
    server: Server,
    store: ObjectStore,
    backup_id: str,
    database: str,
    table: str,
    shard: int,
    progress: Progress,
) -> Snapshot:
    """Freeze `table`, compute its frozen parts' sums, upload them; the shadow copy is removed
    afterwards whatever happens."""
    definition = TableDef(
        table,
        str(server.select(f"SHOW CREATE TABLE {ident(database)}.{ident(table)}")[0][0]),
        columns(server.select, database, table),
    )
    cols = stored(definition.columns)
    for _ in range(_FREEZE_ATTEMPTS):
        frozen, partitions = _freeze(server, database, table, cols, shard)
        if partitions is not None:
            break
        _remove(frozen)
    else:
        raise BackupError(f"{database}.{table}: parts kept changing while frozen; try again")
    try:
        files = sorted(p for p in frozen.rglob("*") if p.is_file())
        total = sum(f.stat().st_size for f in files)
        progress.step(f"uploading {table}: {len(files)} files of {len(partitions)} partitions")
        done = 0
        objects = []
        for f in files:
            key = f"{backup_id}/shards/{shard}/{table}/{f.relative_to(frozen).as_posix()}"
            digest = store.upload(key, f, lambda n: None)
            done += f.stat().st_size
            objects.append(StoredObject(store.location.key(key), f.stat().st_size, digest))
            progress.advance(done, total, "bytes")
    finally:
        _remove(frozen)
    return Snapshot(definition, partitions, objects)


def _freeze(
    server: Server, database: str, table: str, cols: Sequence[str], shard: int
) -> tuple[Path, list[PartitionSum] | None]:
    """Freeze with merges and fetches paused, then sum the frozen parts while they are still
    active. (None: a part disappeared between the freeze and the sums; freeze again.)"""
    name = f"{ident(database)}.{ident(table)}"
    root = server.root(database, table)
    server.execute(f"SYSTEM STOP MERGES {name}")
    server.execute(f"SYSTEM STOP FETCHES {name}")
    try:
        before = _increments(root)
        server.execute(f"ALTER TABLE {name} FREEZE")
        made = sorted(_increments(root) - before, key=int)
        if not made and not server.select(active_parts_sql(database, table)):
            # An empty table: FREEZE writes no shadow directory at all.
            return root / "shadow" / "none", []
        if len(made) != 1:
            raise BackupError(f"could not tell which shadow/ directory FREEZE of {name} made")
        frozen = root / "shadow" / made[0] / "data" / database / table
        parts = sorted(p.name for p in frozen.iterdir()) if frozen.is_dir() else []
        try:
            sums = part_sums(server.select, database, table, cols, parts) if parts else []
        except LookupError:
            return frozen.parents[2], None
    finally:
        server.execute(f"SYSTEM START FETCHES {name}")
        server.execute(f"SYSTEM START MERGES {name}")
    return frozen, by_partition(table, shard, sums)


def _increments(root: Path) -> set[str]:
    shadow = root / "shadow"
    return {p.name for p in shadow.iterdir() if p.name.isdigit()} if shadow.is_dir() else set()


def _remove(frozen: Path) -> None:
    """Delete one `shadow/<n>` directory (given it or a path inside it)."""
    for candidate in (frozen, *frozen.parents):
        if candidate.parent.name == "shadow" and candidate.name.isdigit():
            shutil.rmtree(candidate, ignore_errors=True)
            return


def stage(
    server: Server,
    store: ObjectStore,
    stage_db: str,
    tables: Sequence[TableDef],
    objects: Sequence[StoredObject],
    prefix: str,
    shard: int,
    create: Callable[[TableDef], str],
    progress: Progress,
) -> list[PartitionSum]:
    """Download this shard's parts into plain tables of `stage_db` through `detached/` and
    attach them; returns their sums. A corrupted object fails here, before any live table."""
    server.execute(f"CREATE DATABASE IF NOT EXISTS {ident(stage_db)}")
    out: list[PartitionSum] = []
    for table in tables:
        server.execute(create(table))
        detached = server.data_path(stage_db, table.name) / "detached"
        mine = [o for o in objects if o.key.startswith(f"{prefix}/{table.name}/")]
        total = sum(o.size for o in mine)
        progress.step(f"downloading {table.name}: {len(mine)} files into {detached}")
        done = 0
        for obj in mine:
            relative = PurePosixPath(obj.key[len(prefix) + len(table.name) + 2 :])
            if len(relative.parts) != 2 or ".." in relative.parts or relative.is_absolute():
                raise BackupError(f"object {obj.key} is not <part>/<file> of {table.name}")
            target = detached / relative
            store.download(_relative_key(store, obj.key), target, obj.sha256, lambda n: None)
            done += obj.size
            progress.advance(done, total, "bytes")
        _own_like(detached.parent, detached)
        for part in sorted(p.name for p in detached.iterdir() if p.is_dir()):
            server.execute(
                f"ALTER TABLE {ident(stage_db)}.{ident(table.name)} ATTACH PART {quote(part)}"
            )
        cols = stored(table.columns)
        out += by_partition(table.name, shard, part_sums(server.select, stage_db, table.name, cols))
    return out


def promote(
    server: Server,
    stage_db: str,
    database: str,
    tables: Sequence[TableDef],
    force: bool,
    progress: Progress,
) -> None:
    """Hard-link the staged parts into each live table's `detached/` and ATTACH PARTITION; on
    a replicated table the other replicas fetch them. `force` drops the live partitions first."""
    for table in tables:
        live = f"{ident(database)}.{ident(table.name)}"
        detached = server.data_path(database, table.name) / "detached"
        if force:
            for (partition,) in server.select(_partitions_sql(database, table.name)):
                server.execute(f"ALTER TABLE {live} DROP PARTITION ID {quote(str(partition))}")
        staged = server.select(
            "SELECT name, partition_id, path FROM system.parts WHERE active AND "
            f"database = {quote(stage_db)} AND table = {quote(table.name)}"
        )
        progress.step(f"attaching {len(staged)} parts to {database}.{table.name}")
        for name, _, path in staged:
            target = detached / str(name)
            if target.exists():
                raise BackupError(f"{target} already exists; move it away and restore again")
            _link_tree(Path(str(path)), target)
        _own_like(detached.parent, detached)
        for partition in sorted({str(p) for _, p, _ in staged}):
            server.execute(f"ALTER TABLE {live} ATTACH PARTITION ID {quote(partition)}")


def _partitions_sql(database: str, table: str) -> str:
    return (
        "SELECT DISTINCT partition_id FROM system.parts WHERE active AND "
        f"database = {quote(database)} AND table = {quote(table)}"
    )


def live_sums(
    server: Server, database: str, tables: Sequence[TableDef], shard: int
) -> list[PartitionSum]:
    out: list[PartitionSum] = []
    for table in tables:
        cols = stored(table.columns)
        out += by_partition(table.name, shard, part_sums(server.select, database, table.name, cols))
    return out


def live_rows(server: Server, database: str, tables: Sequence[str]) -> dict[str, int]:
    out = {}
    for table in tables:
        rows = server.select(
            "SELECT sum(rows) FROM system.parts WHERE active AND "
            f"database = {quote(database)} AND table = {quote(table)}"
        )
        out[table] = int(str(rows[0][0] or 0)) if rows else 0
    return out


def discard(server: Server, stage_db: str) -> None:
    server.execute(f"DROP DATABASE IF EXISTS {ident(stage_db)}")


def _relative_key(store: ObjectStore, full_key: str) -> str:
    prefix = store.location.key("")
    return full_key[len(prefix) + 1 :] if prefix and full_key.startswith(prefix + "/") else full_key


def _link_tree(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for f in source.iterdir():
        if f.is_file():
            os.link(f, target / f.name)


def _own_like(reference: Path, tree: Path) -> None:
    """Give downloaded files the owner of the table's directory (the server's user)."""
    if os.geteuid() != 0:
        return
    info = reference.stat()
    for p in (tree, *tree.rglob("*")):
        with contextlib.suppress(OSError):
            os.chown(p, info.st_uid, info.st_gid)
