"""Group commit: concurrent write requests share one storage insert.

ClickHouse wants few, large inserts: every insert makes a part that the engine merges again
later, and merging small parts costs more CPU than inserting them did. Each request hands its
validated points to the batcher and waits; a single loop gathers whatever has queued and writes
it as one insert (up to a size cap), and only then answers every request in it. Up to
`max_inflight` inserts run at once, so one insert's fixed cost overlaps the next batch. A
request is therefore acknowledged only after its points are stored, and a failed insert fails
every request in it (nothing in a failed request is acknowledged).

The loop waits for more only when more is coming. A request announces itself (`arriving`) from
the moment it is admitted until it submits its points or fails; while announced requests are on
their way, the batch waits for them, up to `max_delay_s`. A lone writer, with nothing else
arriving, is inserted at once; a busy server gets inserts as large as its concurrent writes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass

from luminate.model.points import TenantPoints

log = logging.getLogger("luminate.ingest")

WriteFn = Callable[[list[TenantPoints]], int]


@dataclass
class _Pending:
    points: TenantPoints
    done: asyncio.Future[None]


class _Arrival:
    """One announced request; closed when it submits or gives up."""

    __slots__ = ("open",)

    def __init__(self) -> None:
        self.open = True


# The announced request of the running task (each HTTP request runs in its own task).
_ARRIVAL: ContextVar[_Arrival | None] = ContextVar("luminate_write_arrival", default=None)


class Batcher:
    def __init__(
        self,
        write: WriteFn,
        *,
        max_points: int,
        max_delay_s: float,
        max_inflight: int = 2,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self._write = write
        self._max_points = max_points
        self._max_delay_s = max_delay_s
        self._max_inflight = max_inflight
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        # Requests announced and not yet submitted, and the signal that either count changed.
        self._arriving = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # What the last insert did, for the health report.
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_success_at: float | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="luminate-batcher")

    @property
    def arriving_count(self) -> int:
        """Requests announced and not yet submitted (or given up)."""
        return self._arriving

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Announce, for the current task, a write whose points are on their way (its body is
        being read, decoded and checked): a batch being gathered waits for it (up to the delay)
        instead of leaving without it. The announcement ends when the task submits, or when the
        block exits (the request failed or had nothing to store)."""
        arrival = _Arrival()
        token = _ARRIVAL.set(arrival)
        self._arriving += 1
        try:
            yield
        finally:
            _ARRIVAL.reset(token)
            self._arrived(arrival)

    def withdraw(self) -> None:
        """The current task's announced request will not submit soon (it waits for an identical
        write in flight first): inserts stop waiting for it."""
        self._arrived(_ARRIVAL.get())

    def _arrived(self, arrival: _Arrival | None) -> None:
        if arrival is not None and arrival.open:
            arrival.open = False
            self._arriving -= 1
        self._wake.set()

    async def submit(self, points: TenantPoints) -> None:
        """Returns once `points` are durable in storage; raises the storage error otherwise."""
        if self._closed:
            raise RuntimeError("batcher is closed")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(points, done))
        self._arrived(_ARRIVAL.get())
        # Shielded: a client that disconnects must not cancel a write others share.
        await asyncio.shield(done)

    async def close(self) -> None:
        """Write everything already submitted, then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        inflight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(self._max_inflight)
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            # Wait for a free insert slot first: whatever queues up meanwhile joins this batch.
            await slots.acquire()
            batch = [first]
            size = len(first.points)
            deadline = time.monotonic() + self._max_delay_s
            while size < self._max_points:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - time.monotonic()
                    if self._arriving == 0 or remaining <= 0:
                        break
                    # Requests are on their way: wait for one to submit (or give up).
                    self._wake.clear()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), remaining)
                    continue
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                size += len(item.points)
            task = asyncio.create_task(self._flush(batch, size))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            task.add_done_callback(lambda _: slots.release())
        # Drain whatever arrived after the stop marker (submit() refuses new work by now).
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                await self._flush([item], len(item.points))
        await asyncio.gather(*inflight)

    async def _flush(self, batch: list[_Pending], size: int) -> None:
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._write, [p.points for p in batch])
        except Exception as exc:  # every waiter gets the failure; the loop keeps running
            self.last_error = str(exc)[:500]
            self.last_error_at = time.time()
            for p in batch:
                if not p.done.done():
                    p.done.set_exception(exc)
            return
        finally:
            if self._on_batch is not None:
                self._on_batch(size, time.perf_counter() - started)
        self.last_success_at = time.time()
        for p in batch:
            if not p.done.done():
                p.done.set_result(None)
