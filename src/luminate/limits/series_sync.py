"""Series counts shared through the storage and kept across restarts.

Every sync interval each process saves a snapshot of every tenant tracker that admitted new
series since its last save, and (in global mode) merges the snapshots other processes saved
since it last looked. At start it merges every snapshot of the current window, its own earlier
incarnations' included. Merging is a union, so a series seen by several processes counts once,
and a snapshot read twice changes nothing.

Trackers are read and changed on the event loop only; encoding, decoding and storage calls run
on worker threads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from luminate.limits import snapshot
from luminate.limits.members import jittered
from luminate.limits.series import SeriesLimiter, TenantSeries, window_start
from luminate.model.coordination import SeriesState
from luminate.model.time import now_ms
from luminate.observability.metrics import Metrics
from luminate.storage.errors import StorageError
from luminate.storage.series_state import SeriesStates

log = logging.getLogger("luminate.limits")
T = TypeVar("T")

# One insert carries at most this many snapshot bytes; more are split over several.
_MAX_INSERT_BYTES = 32 * 1024 * 1024


class SeriesSync:
    def __init__(
        self,
        series: SeriesLimiter,
        states: SeriesStates,
        *,
        member_id: str,
        interval_s: float,
        share: bool,
        metrics: Metrics,
    ) -> None:
        self._series = series
        self._states = states
        self._me = member_id
        self.interval_s = interval_s
        self._share = share
        self._metrics = metrics
        # (tenant, member) -> updated_ms of the snapshot last merged, for the current window.
        self._merged: dict[tuple[str, str], int] = {}
        self._window_ms = -1
        self._forgotten_window_ms = -1
        self._since_ms: int | None = None
        # Its own thread, off the pool that serves requests (large snapshots take a while).
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="luminate-series-sync")

    async def _off_loop(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def close(self) -> None:
        self._thread.shutdown(wait=False)

    async def restore(self) -> int:
        """Merge every snapshot of the current window; returns how many. Storage failures are
        logged: the process then starts counting from zero."""
        try:
            return await self._pull(since_ms=None, exclude="")
        except StorageError as exc:
            self._metrics.storage_errors.labels(op="series_state").inc()
            log.warning("limits: series counts not restored", extra={"error": str(exc)})
            return 0

    async def sync(self) -> None:
        """Save what changed, then merge what the others saved (in global mode)."""
        await self.save()
        if self._share:
            started = now_ms()
            # Rows written while the last read ran, or still replicating then, are read again;
            # merging them twice is harmless.
            await self._pull(since_ms=self._since_ms, exclude=self._me)
            self._since_ms = started - int(max(60.0, 4 * self.interval_s) * 1000)
        await self._forget_old_windows()

    async def save(self) -> int:
        """Save the snapshot of every tracker that changed; returns how many were saved. On a
        failure the trackers stay marked as changed and the error is raised."""
        now = time.time()
        changed = [(t, tr) for t, tr in self._series.tracked(now).items() if tr.dirty]
        if not changed:
            return 0
        snaps = [(tenant, tracker, tracker.snapshot()) for tenant, tracker in changed]
        try:
            await self._off_loop(lambda: self._encode_and_save(snaps))
        except BaseException:
            for _, tracker, _ in snaps:
                tracker.dirty = True
            raise
        return len(snaps)

    def _encode_and_save(self, snaps: list[tuple[str, TenantSeries, snapshot.Snapshot]]) -> None:
        batch: list[SeriesState] = []
        size = 0
        updated = now_ms()
        for tenant, _, snap in snaps:
            data = snapshot.encode(snap)
            batch.append(
                SeriesState(tenant, self._me, int(snap.window_start * 1000), updated, data)
            )
            size += len(data)
            if size >= _MAX_INSERT_BYTES:
                self._states.save(batch)
                batch, size = [], 0
        self._states.save(batch)

    async def _pull(self, *, since_ms: int | None, exclude: str) -> int:
        start = window_start(time.time(), self._series.window_s)
        start_ms = int(start * 1000)
        if start_ms != self._window_ms:
            self._window_ms, self._merged = start_ms, {}
        rows = await self._off_loop(
            lambda: self._states.load(start_ms, since_ms=since_ms, exclude_member=exclude)
        )
        fresh = [r for r in rows if self._merged.get((r.tenant, r.member_id), -1) < r.updated_ms]
        decoded = await self._off_loop(lambda: _decode_all(fresh))
        merged = 0
        for row, snap in decoded:
            tracker = self._series.tenant(row.tenant, time.time())
            if tracker.started != start:
                continue  # the window ended while the rows were read
            try:
                tracker.merge(snap)
            except ValueError as exc:
                log.warning(
                    "limits: series snapshot skipped",
                    extra={"tenant": row.tenant, "member": row.member_id, "error": str(exc)},
                )
                continue
            self._merged[(row.tenant, row.member_id)] = row.updated_ms
            merged += 1
            await asyncio.sleep(0)  # a large tenant's merge must not hold the loop for others
        return merged

    async def _forget_old_windows(self) -> None:
        start_ms = int(window_start(time.time(), self._series.window_s) * 1000)
        if start_ms == self._forgotten_window_ms:
            return
        self._forgotten_window_ms = start_ms
        try:
            await self._off_loop(lambda: self._states.forget_before(start_ms))
        except StorageError as exc:
            log.info("limits: old series snapshots not deleted yet", extra={"error": str(exc)})

    async def run(self) -> None:
        """Sync forever, every interval with jitter; failures are counted and logged."""
        while True:
            await asyncio.sleep(jittered(self.interval_s))
            try:
                await self.sync()
            except StorageError as exc:
                self._metrics.storage_errors.labels(op="series_state").inc()
                log.warning("limits: series counts not synced", extra={"error": str(exc)})


def _decode_all(rows: list[SeriesState]) -> list[tuple[SeriesState, snapshot.Snapshot]]:
    out = []
    for row in rows:
        try:
            out.append((row, snapshot.decode(row.state)))
        except ValueError as exc:
            log.warning(
                "limits: unreadable series snapshot skipped",
                extra={"tenant": row.tenant, "member": row.member_id, "error": str(exc)},
            )
    return out
