"""Waiting for mutations (`ALTER ... DELETE`), which are asynchronous on every server version:
`mutations_sync` is not known to older servers, so the caller polls `system.mutations` until
none is left for the table."""

from __future__ import annotations

import time

from luminate.storage.engine import Engine
from luminate.storage.errors import StorageTimeout
from luminate.storage.reads import as_int
from luminate.storage.sql import SystemStatement, quote

MUTATION_TIMEOUT_S = 300.0


def wait_for_mutations(
    engine: Engine,
    database: str | None,
    table: str,
    cluster: str | None = None,
    timeout_s: float = MUTATION_TIMEOUT_S,
) -> None:
    """Return once this host (in a cluster: a replica of every shard) has no unfinished
    mutation of `database.table` (None: the engine's current database); StorageTimeout after
    `timeout_s`."""
    db = quote(database) if database else "currentDatabase()"
    source = f"cluster({quote(cluster)}, system, mutations)" if cluster else "system.mutations"
    pending = SystemStatement(
        f"SELECT count() FROM {source} "
        f"WHERE database = {db} AND table = {quote(table)} AND is_done = 0"
    )
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while as_int(engine.select(pending).rows[0][0]):
        if time.monotonic() > deadline:
            raise StorageTimeout(f"deletion still running after {timeout_s:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
