"""The backups in the object store: one directory per backup id, a manifest written last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from luminate.backup.errors import BackupError, ManifestError
from luminate.backup.manifest import MANIFEST, Manifest, decode, is_id, started
from luminate.backup.objects import ObjectStore


@dataclass(frozen=True)
class Entry:
    """A backup directory. `manifest` is None for one without a manifest (interrupted, or still
    being written); `problem` says why a manifest could not be read."""

    id: str
    started: datetime
    manifest: Manifest | None
    problem: str = ""

    @property
    def state(self) -> str:
        if self.manifest is not None:
            return self.manifest.status.value
        return "unreadable" if self.problem else "incomplete"

    @property
    def restorable(self) -> bool:
        return self.manifest is not None and self.manifest.restorable


def entries(store: ObjectStore) -> list[Entry]:
    """Every backup directory, oldest first."""
    out = []
    for name in store.children():
        when = started(name)
        if when is None or not is_id(name):
            continue  # not ours: leave it alone
        try:
            manifest = read(store, name) if store.exists(f"{name}/{MANIFEST}") else None
            if manifest is None and next(store.keys(name), None) is None:
                continue  # an empty directory some S3 servers keep after a delete
            out.append(Entry(name, when, manifest))
        except ManifestError as exc:
            out.append(Entry(name, when, None, str(exc)))
    return out


def read(store: ObjectStore, backup_id: str) -> Manifest:
    data = store.get(f"{backup_id}/{MANIFEST}", max_bytes=64 * 1024 * 1024)
    return decode(data, f"{store.location.describe()}/{backup_id}/{MANIFEST}")


def restorable(store: ObjectStore, backup_id: str | None) -> Manifest:
    """The named backup (or the newest complete one) if it is complete; BackupError otherwise."""
    if backup_id is None:
        complete = [e for e in entries(store) if e.restorable]
        if not complete:
            raise BackupError(f"no complete backup in {store.location.describe()}")
        assert complete[-1].manifest is not None
        return complete[-1].manifest
    if not is_id(backup_id):
        raise BackupError(f"{backup_id!r} is not a backup id (like 20261206T020000Z-1f2e3d)")
    if not store.exists(f"{backup_id}/{MANIFEST}"):
        raise BackupError(
            f"backup {backup_id} has no manifest in {store.location.describe()}: it does not "
            "exist or never completed, and is not restorable"
        )
    manifest = read(store, backup_id)
    if not manifest.restorable:
        why = f": {manifest.error}" if manifest.error else ""
        raise BackupError(f"backup {backup_id} is {manifest.status.value}, not restorable{why}")
    return manifest
