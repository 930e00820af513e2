"""Writing validated points: one insert for many tenants' batches, retried with the same
deduplication token where the engine makes retries safe, and all-or-nothing across partitions
where a journal is kept (the embedded engine; see `journal.py`)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from luminate.model.points import TenantPoints
from luminate.storage.engine import Column, Engine
from luminate.storage.errors import StorageError, StorageUnavailable
from luminate.storage.journal import Journal
from luminate.storage.mutations import wait_for_mutations
from luminate.storage.sql import SystemStatement, Table

log = logging.getLogger("luminate.storage")

SAMPLE_COLUMNS = ("tenant_id", "metric_name", "timestamp_ms", "value", "dim_keys", "dim_values")
# Which insert a row came in (journaled engines only; 0 for rows from before the journal).
BATCH_COLUMN = "batch_id"
# How often one write is tried inside one call before the request is answered 503.
WRITE_ATTEMPTS = 3


def write(engine: Engine, batches: Sequence[TenantPoints], journal: Journal | None = None) -> int:
    """Store every point of every batch in one insert, or raise. Returns points written.

    With a journal, an insert that fails for good is rolled back (whatever partitions of it
    landed are deleted) before this raises, and one cut short by a crash is rolled back at the
    next start: a batch is either stored whole or not at all."""
    tenants: list[str] = []
    names: list[str] = []
    stamps: list[int] = []
    values: list[float] = []
    keys: list[list[str]] = []
    dims: list[list[str]] = []
    for batch in batches:
        if not batch.tenant:
            raise StorageError("a batch without a tenant is never written")
        tenants.extend([batch.tenant] * len(batch))
        names.extend(batch.names)
        stamps.extend(batch.timestamps)
        values.extend(batch.values)
        keys.extend(batch.keys)
        dims.extend(batch.dim_values)
    if not names:
        return 0
    data: list[Column] = [tenants, names, stamps, values, keys, dims]
    columns: tuple[str, ...] = SAMPLE_COLUMNS
    batch_id = None
    if journal is not None:
        batch_id = journal.begin(len(names))
        data.append([batch_id] * len(names))
        columns = (*SAMPLE_COLUMNS, BATCH_COLUMN)
    # One token for this batch and all its retries: the engine stores it once, while an
    # identical batch sent later by a client is a new write and is stored again.
    token = uuid.uuid4().hex
    # Retrying is only safe where the engine drops a repeated insert.
    attempts = WRITE_ATTEMPTS if engine.idempotent_inserts else 1
    for attempt in range(1, attempts + 1):
        try:
            engine.insert(Table.SAMPLES, columns, data, token)
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
        return len(names)
    return 0  # pragma: no cover


def roll_back(engine: Engine, journal: Journal, batches: list[int]) -> bool:
    """Delete every row of `batches` (not acknowledged to anyone) and close them in the journal.
    False when storage refused: they stay open, and the next start removes them."""
    try:
        engine.execute(SystemStatement.roll_back(Table.SAMPLES, BATCH_COLUMN, batches))
        wait_for_mutations(engine, None, Table.SAMPLES.value)
    except StorageError as exc:
        log.error("rolling back unacknowledged inserts failed", extra={"error": str(exc)})
        return False
    for batch in batches:
        journal.done(batch)
    return True
