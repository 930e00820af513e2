"""The manifest: what a backup holds and the proof it is whole. It is the last object written,
so its presence with `status: complete` is the commit marker; a backup without one (killed,
interrupted) is never restorable."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum

import msgspec

from luminate.backup.errors import ManifestError

# Bumped when a reader of the old format would misread the new one.
FORMAT = 1
MANIFEST = "manifest.json"
_ID = re.compile(r"^(\d{8}T\d{6}Z)-[0-9a-f]{6}$")


class Status(StrEnum):
    COMPLETE = "complete"
    FAILED = "failed"


class Strategy(StrEnum):
    """How the data was copied, which decides how it is restored."""

    # The engine's own BACKUP statement (the embedded engine, current ClickHouse servers).
    ENGINE = "engine"
    # ALTER TABLE ... FREEZE on one replica per shard, parts uploaded by the agent beside it.
    FREEZE = "freeze"


class Column(msgspec.Struct, frozen=True):
    name: str
    type: str
    # '' for a stored column, MATERIALIZED / ALIAS / DEFAULT as the engine reports it.
    kind: str = ""


class TableDef(msgspec.Struct, frozen=True):
    """A table as it was backed up: the statement that created it and its stored columns."""

    name: str
    create: str
    columns: list[Column]


class PartitionSum(msgspec.Struct, frozen=True, order=True):
    """Rows and content checksum of one partition of one table on one shard (0: no shards).
    The checksum is the wrapping sum of a 64-bit hash of every row, so it does not depend on how
    rows are split into parts or ordered."""

    table: str
    shard: int
    partition: str
    rows: int
    checksum: int


class StoredObject(msgspec.Struct, frozen=True):
    """One object Luminate uploaded itself (the freeze strategy), with its digest."""

    key: str
    size: int
    sha256: str


class Manifest(msgspec.Struct, kw_only=True):
    format: int = FORMAT
    id: str
    status: Status
    backend: str
    strategy: Strategy
    luminate_version: str
    server_version: str
    database: str
    cluster: str = ""
    schema_version: str
    tables: list[TableDef]
    partitions: list[PartitionSum]
    objects: list[StoredObject] = msgspec.field(default_factory=list)
    started_at: str
    finished_at: str
    size_bytes: int
    rows: int
    error: str = ""

    @property
    def restorable(self) -> bool:
        return self.status is Status.COMPLETE

    def encode(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=2)


def decode(data: bytes, where: str) -> Manifest:
    """Parse a manifest; ManifestError names what is wrong with it (never a traceback)."""
    try:
        head = msgspec.json.decode(data, type=dict[str, object])
    except msgspec.DecodeError as exc:
        raise ManifestError(f"{where} is not a readable manifest ({exc})") from None
    found = head.get("format")
    if isinstance(found, int) and found > FORMAT:
        raise ManifestError(
            f"{where} has manifest format {found}, newer than the {FORMAT} this Luminate "
            "reads: restore it with a newer Luminate"
        )
    try:
        return msgspec.json.decode(data, type=Manifest)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"{where} is not a valid manifest ({exc})") from None


def new_id(now: datetime) -> str:
    """Sortable by start time: `20261206T020000Z-1f2e3d`."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def started(backup_id: str) -> datetime | None:
    """When a backup started, from its id; None for a name that is not a backup id."""
    match = _ID.match(backup_id)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def is_id(text: str) -> bool:
    return _ID.match(text) is not None


def schema_version(tables: list[TableDef]) -> str:
    """A short fingerprint of the columns of every table, compared before a restore."""
    text = ";".join(
        f"{t.name}(" + ",".join(f"{c.name} {c.type} {c.kind}".strip() for c in t.columns) + ")"
        for t in sorted(tables, key=lambda t: t.name)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
