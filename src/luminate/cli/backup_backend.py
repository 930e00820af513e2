"""Opening the backend a command needs: the embedded store (only when no server owns it), or
the ClickHouse servers with the strategy their version supports."""

from __future__ import annotations

from collections.abc import Callable

from luminate.backup.backends import BUILTIN_SINCE, builtin_backup, embedded_backend, store_owner
from luminate.backup.errors import ServerBusy
from luminate.backup.objects import ObjectStore
from luminate.backup.service import Backend
from luminate.settings import Settings


def open_backend(
    settings: Settings, store: ObjectStore, *, need_live: bool
) -> tuple[Backend, Callable[[], None]]:
    """The backend and how to close it. `need_live`: the command reads or writes the live
    tables (create, restore), not only the object store and a scratch copy (verify)."""
    from luminate.app import build_storage  # noqa: PLC0415  (loads the engine)

    if settings.storage_backend == "embedded":
        if not need_live:
            return embedded_backend(settings, store, None), lambda: None
        owner = store_owner(settings.data_dir)
        if owner is not None:
            raise ServerBusy(
                f"the embedded store in {settings.data_dir!r} is owned by a running process "
                f"(pid {owner}); stop it first: a restore needs the store to itself"
            )
        storage = build_storage(settings)
        try:
            # Creates the tables of an empty store, as the server would at start.
            storage.migrate()
        except BaseException:
            storage.close()
            raise
        return embedded_backend(settings, store, storage.engine), storage.close

    storage = build_storage(settings)
    try:
        if need_live:
            storage.migrate()
        else:
            storage.verify_schema()
        if storage.caps.version >= BUILTIN_SINCE:
            from luminate.backup.cluster import ClusterBackend  # noqa: PLC0415

            backend: Backend = ClusterBackend(
                storage.engine, builtin_backup(settings, store), storage.topology
            )
        else:
            from luminate.backup.freeze import FreezeBackend  # noqa: PLC0415

            backend = FreezeBackend.from_settings(settings, store, storage)
    except BaseException:
        storage.close()
        raise
    return backend, storage.close
