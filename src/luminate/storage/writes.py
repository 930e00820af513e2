"""Writing validated points: one insert for many tenants' batches, retried with the same
deduplication token where the engine makes retries safe, and all-or-nothing across partitions
where a journal is kept (the embedded engine; see `journal.py`)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from luminate.model.points import TenantPoints
from luminate.storage import columns
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError, StorageUnavailable
from luminate.storage.journal import Journal
from luminate.storage.mutations import wait_for_mutations
from luminate.storage.promotion import Promotions
from luminate.storage.sql import SystemStatement, Table

log = logging.getLogger("luminate.storage")

# Which insert a row came in (journaled engines only; 0 for rows from before the journal).
BATCH_COLUMN = "batch_id"
# How often one write is tried inside one call before the request is answered 503.
WRITE_ATTEMPTS = 3


def write(
    engine: Engine,
    promotions: Promotions,
    batches: Sequence[TenantPoints],
    journal: Journal | None = None,
) -> int:
    """Store every point of every batch in one insert, or raise. Returns points written.

    With a journal, an insert that fails for good is rolled back (whatever partitions of it
    landed are deleted) before this raises, and one cut short by a crash is rolled back at the
    next start: a batch is either stored whole or not at all."""
    batches = [b for b in batches if len(b)]
    if any(not b.tenant for b in batches):
        raise StorageError("a batch without a tenant is never written")
    if not batches:
        return 0
    all_groups = [columns.groups(b) for b in batches]
    promoted, leads = promotions.prepare(batches, all_groups)
    insert = columns.build(batches, all_groups, promoted, leads)
    batch_id = None
    if journal is not None:
        batch_id = journal.begin(insert.rows)
        insert.names.append(BATCH_COLUMN)
        insert.data.append([batch_id] * insert.rows)
    # One token for this batch and all its retries: the engine stores it once, while an
    # identical batch sent later by a client is a new write and is stored again.
    token = uuid.uuid4().hex
    # Retrying is only safe where the engine drops a repeated insert.
    attempts = WRITE_ATTEMPTS if engine.idempotent_inserts else 1
    for attempt in range(1, attempts + 1):
        try:
            engine.insert(Table.SAMPLES, insert.names, insert.data, token)
        except StorageError as exc:
            log.warning("insert failed", extra={"attempt": attempt, "error": str(exc)})
            if attempt == attempts:
                if journal is not None and batch_id is not None:
                    roll_back(engine, journal, [batch_id])
                raise StorageUnavailable(f"insert failed after {attempt} attempts: {exc}") from exc
            time.sleep(0.05 * attempt)
            continue
        if journal is not None and batch_id is not None:
            journal.done(batch_id, [b.request_key for b in batches if b.request_key is not None])
        return insert.rows
    return 0  # pragma: no cover


def roll_back(
    engine: Engine, journal: Journal, batches: list[int], tables: Sequence[Table] = (Table.SAMPLES,)
) -> bool:
    """Delete every row of `batches` (not acknowledged to anyone) and close them in the journal.
    False when storage refused: they stay open, and the next start removes them."""
    try:
        for table in tables:
            engine.execute(SystemStatement.roll_back(table, BATCH_COLUMN, batches))
            wait_for_mutations(engine, None, table.value)
    except StorageError as exc:
        log.error("rolling back unacknowledged inserts failed", extra={"error": str(exc)})
        return False
    for batch in batches:
        journal.done(batch)
    return True
