"""Settings in, the object store and the backend for this deployment out."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from luminate.backup.builtin import BuiltinBackup
from luminate.backup.errors import UsageError
from luminate.backup.objects import Location, ObjectStore, parse_bucket, read_credentials
from luminate.backup.service import Backend
from luminate.settings import Settings
from luminate.storage.engine import Engine

# BACKUP ... ON CLUSTER TO S3 with the settings used here is in every server since 23.3 LTS.
BUILTIN_SINCE = (23, 3)


def location(settings: Settings) -> Location:
    try:
        bucket, prefix = parse_bucket(settings.backup_bucket)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Location(
        bucket=bucket,
        prefix=prefix or settings.backup_prefix.strip("/"),
        endpoint=settings.backup_s3_endpoint,
        region=settings.backup_s3_region,
    )


def object_store(settings: Settings) -> ObjectStore:
    credentials = read_credentials(
        settings.backup_s3_access_key_file, settings.backup_s3_secret_key_file
    )
    return ObjectStore(location(settings), credentials, attempts=settings.backup_retry_attempts)


def builtin_backup(settings: Settings, store: ObjectStore) -> BuiltinBackup:
    return BuiltinBackup(
        store,
        store.credentials,
        attempts=settings.backup_retry_attempts,
        timeout_s=settings.backup_timeout_seconds,
    )


def embedded_backend(settings: Settings, store: ObjectStore, engine: Engine | None) -> Backend:
    from luminate.backup.embedded import EmbeddedBackend  # noqa: PLC0415

    return EmbeddedBackend(engine, builtin_backup(settings, store))


def store_owner(data_dir: str) -> int | None:
    """The PID of the process that holds the embedded store's lock, or None when it is free.
    (The engine takes the lock itself; this only looks, and releases at once.)"""
    path = Path(data_dir).resolve() / ".luminate.lock"
    if not path.exists():
        return None
    with path.open("a+") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            text = lock.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return None


def own_pid() -> int:
    return os.getpid()
