"""Running blocking storage calls from the event loop: bounded concurrency, a time guard,
latency and error metrics in one place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from luminate.observability.metrics import Metrics
from luminate.storage.errors import StorageError, StorageTimeout

T = TypeVar("T")
# The engine cancels a statement at its own timeout; this guard only catches an engine that
# does not answer at all.
_GUARD_S = 2.0


class StorageCalls:
    def __init__(self, metrics: Metrics, concurrency: int) -> None:
        self._metrics = metrics
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self, op: str, fn: Callable[[], T], *, timeout_s: float | None = None) -> T:
        """`fn()` on a worker thread, within this process's storage concurrency; `op` names it
        in luminate_storage_errors_total."""
        started = time.perf_counter()
        async with self._slots:
            try:
                call = asyncio.to_thread(fn)
                if timeout_s is None:
                    return await call
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the result of a
                # call that finished while the caller was being cancelled, swallowing the
                # cancellation (a maintenance loop cancelled at shutdown would run on).
                try:
                    async with asyncio.timeout(timeout_s + _GUARD_S):
                        return await call
                except TimeoutError:
                    raise StorageTimeout(f"storage did not answer within {timeout_s:g} s") from None
            except StorageError:
                self._metrics.storage_errors.labels(op=op).inc()
                raise
            finally:
                self._metrics.storage_query_duration.labels(backend=self._metrics.backend).observe(
                    time.perf_counter() - started
                )
