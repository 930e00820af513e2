"""Writing validated points: one insert for many tenants' batches, retried with the same
deduplication token where the engine makes retries safe."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from luminate.model.points import TenantPoints
from luminate.storage.engine import Column, Engine
from luminate.storage.errors import StorageError, StorageUnavailable
from luminate.storage.sql import Table

log = logging.getLogger("luminate.storage")

SAMPLE_COLUMNS = ("tenant_id", "metric_name", "timestamp_ms", "value", "dim_keys", "dim_values")
# How often one write is tried inside one call before the request is answered 503.
WRITE_ATTEMPTS = 3


def write(engine: Engine, batches: Sequence[TenantPoints]) -> int:
    """Store every point of every batch in one insert, or raise. Returns points written."""
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
    # One token for this batch and all its retries: the engine stores it once, while an
    # identical batch sent later by a client is a new write and is stored again.
    token = uuid.uuid4().hex
    # Retrying is only safe where the engine drops a repeated insert.
    attempts = WRITE_ATTEMPTS if engine.idempotent_inserts else 1
    for attempt in range(1, attempts + 1):
        try:
            engine.insert(Table.SAMPLES, SAMPLE_COLUMNS, data, token)
            return len(names)
        except StorageError as exc:
            log.warning("insert failed", extra={"attempt": attempt, "error": str(exc)})
            if attempt == attempts:
                raise StorageUnavailable(f"insert failed after {attempt} attempts: {exc}") from exc
            time.sleep(0.05 * attempt)
    return 0  # pragma: no cover
