"""Writing validated points: one insert for many tenants' batches, retried with the same
deduplication token where the engine makes retries safe."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from luminate.model.points import TenantPoints
from luminate.storage import columns
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError, StorageUnavailable
from luminate.storage.promotion import Promotions
from luminate.storage.sql import Table

log = logging.getLogger("luminate.storage")

# How often one write is tried inside one call before the request is answered 503.
WRITE_ATTEMPTS = 3


def write(engine: Engine, promotions: Promotions, batches: Sequence[TenantPoints]) -> int:
    """Store every point of every batch in one insert, or raise. Returns points written."""
    batches = [b for b in batches if len(b)]
    if any(not b.tenant for b in batches):
        raise StorageError("a batch without a tenant is never written")
    if not batches:
        return 0
    all_groups = [columns.groups(b) for b in batches]
    promoted, leads = promotions.prepare(batches, all_groups)
    insert = columns.build(batches, all_groups, promoted, leads)
    # One token for this batch and all its retries: the engine stores it once, while an
    # identical batch sent later by a client is a new write and is stored again.
    token = uuid.uuid4().hex
    # Retrying is only safe where the engine drops a repeated insert.
    attempts = WRITE_ATTEMPTS if engine.idempotent_inserts else 1
    for attempt in range(1, attempts + 1):
        try:
            engine.insert(Table.SAMPLES, insert.names, insert.data, token)
            return insert.rows
        except StorageError as exc:
            log.warning("insert failed", extra={"attempt": attempt, "error": str(exc)})
            if attempt == attempts:
                raise StorageUnavailable(f"insert failed after {attempt} attempts: {exc}") from exc
            time.sleep(0.05 * attempt)
    return 0  # pragma: no cover
