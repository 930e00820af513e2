"""create / verify / restore / prune over one backend and one object store. The backend knows
how to copy and restore data; this module owns the manifest and its rules: written last, only
`complete` is restorable, a failed run leaves nothing a restore would pick up."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from luminate import __version__
from luminate.backup.builtin import Captured
from luminate.backup.catalog import Entry, entries
from luminate.backup.errors import BackupError, ManifestError, ObjectStoreError, VerificationFailed
from luminate.backup.fingerprint import differences
from luminate.backup.manifest import (
    MANIFEST,
    Manifest,
    PartitionSum,
    Status,
    Strategy,
    new_id,
    schema_version,
    timestamp,
)
from luminate.backup.objects import ObjectStore
from luminate.backup.progress import Progress
from luminate.backup.retention import expired

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Backend(Protocol):
    """How one kind of storage is copied to the object store and back."""

    @property
    def name(self) -> str: ...

    @property
    def strategy(self) -> Strategy: ...

    @property
    def cluster(self) -> str: ...

    @property
    def database(self) -> str: ...

    def capture(self, backup_id: str, progress: Progress) -> Captured:
        """Copy the data under `backup_id`; returns what was captured, with partition sums
        computed by the engine from the captured data."""

    def verify(self, manifest: Manifest, progress: Progress) -> list[PartitionSum]:
        """Restore into a scratch place (never the live tables); returns its partition sums."""

    def restore(self, manifest: Manifest, force: bool, progress: Progress) -> list[PartitionSum]:
        """Restore into the live tables; returns their partition sums afterwards."""


def create(
    store: ObjectStore, backend: Backend, progress: Progress, clock: Clock = utc_now
) -> Manifest:
    began = clock()
    backup_id = new_id(began)
    progress.step(f"backup {backup_id} of the {backend.name} store started")
    try:
        captured = backend.capture(backup_id, progress)
        manifest = Manifest(
            id=backup_id,
            status=Status.COMPLETE,
            backend=backend.name,
            strategy=backend.strategy,
            luminate_version=__version__,
            server_version=captured.server_version,
            database=backend.database,
            cluster=backend.cluster,
            schema_version=schema_version(captured.tables),
            tables=captured.tables,
            partitions=captured.partitions,
            objects=captured.objects,
            started_at=timestamp(began),
            finished_at=timestamp(clock()),
            size_bytes=captured.size_bytes,
            rows=captured.rows,
        )
        # The commit point: until this object exists the backup is not restorable.
        store.put(f"{backup_id}/{MANIFEST}", manifest.encode())
    except BaseException as exc:
        _abandon(store, backend, backup_id, began, clock, exc, progress)
        raise
    progress.step(f"backup {backup_id} complete: {manifest.rows} rows, {manifest.size_bytes} bytes")
    return manifest


def _abandon(
    store: ObjectStore,
    backend: Backend,
    backup_id: str,
    began: datetime,
    clock: Clock,
    exc: BaseException,
    progress: Progress,
) -> None:
    """Remove what a failed run wrote and leave a `failed` manifest saying why. If the store is
    unreachable the directory stays without a manifest: listed as incomplete, never restored,
    deleted by prune."""
    progress.step("backup failed; removing what it wrote")
    with contextlib.suppress(ObjectStoreError):
        store.delete_tree(backup_id)
        failed = Manifest(
            id=backup_id,
            status=Status.FAILED,
            backend=backend.name,
            strategy=backend.strategy,
            luminate_version=__version__,
            server_version="",
            database="",
            schema_version="",
            tables=[],
            partitions=[],
            started_at=timestamp(began),
            finished_at=timestamp(clock()),
            size_bytes=0,
            rows=0,
            error=str(exc) or type(exc).__name__,
        )
        store.put(f"{backup_id}/{MANIFEST}", failed.encode())


def verify(backend: Backend, manifest: Manifest, progress: Progress) -> None:
    """Raise VerificationFailed unless a scratch restore matches the manifest partition by
    partition."""
    check_backend(backend, manifest)
    found = backend.verify(manifest, progress)
    problems = differences(manifest.partitions, found)
    if problems:
        raise VerificationFailed(
            f"backup {manifest.id} failed verification ({len(problems)} partitions differ): "
            + "; ".join(problems[:5])
        )
    progress.step(
        f"backup {manifest.id} verified: {sum(p.rows for p in found)} rows in "
        f"{len([p for p in found if p.rows])} partitions match the manifest"
    )


def mark_failed(store: ObjectStore, manifest: Manifest, error: str) -> None:
    """A backup that did not verify is not restorable."""
    manifest.status = Status.FAILED
    manifest.error = error
    store.put(f"{manifest.id}/{MANIFEST}", manifest.encode())


def restore(backend: Backend, manifest: Manifest, force: bool, progress: Progress) -> int:
    check_backend(backend, manifest)
    found = backend.restore(manifest, force, progress)
    problems = differences(manifest.partitions, found)
    if problems:
        raise VerificationFailed(
            f"restored tables differ from backup {manifest.id}: " + "; ".join(problems[:5])
        )
    rows = sum(p.rows for p in found)
    progress.step(f"restored backup {manifest.id}: {rows} rows, counts and checksums match")
    return rows


def check_backend(backend: Backend, manifest: Manifest) -> None:
    if manifest.backend != backend.name or manifest.strategy is not backend.strategy:
        raise ManifestError(
            f"backup {manifest.id} was taken from the {manifest.backend} backend "
            f"({manifest.strategy.value}); this Luminate uses {backend.name} "
            f"({backend.strategy.value})"
        )


@dataclass(frozen=True)
class Pruned:
    deleted: list[Entry]
    kept: list[Entry]


def prune(store: ObjectStore, retention_days: int, clock: Clock = utc_now) -> Pruned:
    backups = entries(store)
    doomed = expired(backups, clock(), retention_days)
    for entry in doomed:
        try:
            store.delete_tree(entry.id)
        except ObjectStoreError as exc:
            raise BackupError(f"deleting backup {entry.id} failed: {exc}") from None
    gone = {e.id for e in doomed}
    return Pruned(doomed, [e for e in backups if e.id not in gone])
