"""Storage calls from the event loop: a cancelled call stays cancelled, whenever the cancel lands
(a maintenance loop cancelled at shutdown must stop), and a call past its guard is a timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from luminate.observability.metrics import Metrics
from luminate.storage.calls import StorageCalls
from luminate.storage.errors import StorageTimeout

# How many loop turns after the storage thread finished the cancel lands: zero turns and one
# (the caller not yet woken, the call's result already there) are the turns that matter.
HOPS = range(6)


def later(loop: asyncio.AbstractEventLoop, hops: int, action: Callable[[], None]) -> None:
    """Run `action` after `hops` turns of `loop`."""
    if hops == 0:
        action()
    else:
        loop.call_soon(later, loop, hops - 1, action)


async def cancel_after_the_call_finished(hops: int) -> tuple[bool, bool]:
    """(whether the task accepted the cancel, whether it ended cancelled)."""
    calls = StorageCalls(Metrics(backend="embedded"), concurrency=4)
    started, go, finished = threading.Event(), threading.Event(), threading.Event()

    def work() -> int:
        started.set()
        go.wait(10)
        finished.set()
        return 1

    task = asyncio.create_task(calls.run("admin", work, timeout_s=300))
    while not started.is_set():  # the call is on its thread
        await asyncio.sleep(0.001)
    # Blocking the loop on purpose: the thread finishes while the loop cannot react yet.
    go.set()
    assert finished.wait(10)
    time.sleep(0.01)  # the thread has handed its result to the loop
    accepted: list[bool] = []
    later(asyncio.get_running_loop(), hops, lambda: accepted.append(task.cancel()))
    try:
        await task
        cancelled = False
    except asyncio.CancelledError:
        cancelled = True
    while not accepted:  # a cancel that comes after the task ended is refused
        await asyncio.sleep(0)
    return accepted[0], cancelled


@pytest.mark.parametrize("hops", HOPS)
def test_a_cancelled_call_stays_cancelled(hops: int) -> None:
    accepted, cancelled = asyncio.run(cancel_after_the_call_finished(hops))
    assert cancelled == accepted, "the call returned although its cancel was accepted"


def test_the_cancel_lands_on_a_running_call_for_some_turns() -> None:
    """Guards the test above: some of its cancels reach the call before it returns."""
    outcomes = [asyncio.run(cancel_after_the_call_finished(hops)) for hops in HOPS]
    assert any(accepted for accepted, _ in outcomes), outcomes


def test_a_call_past_its_guard_is_a_storage_timeout() -> None:
    async def scenario() -> None:
        calls = StorageCalls(Metrics(backend="embedded"), concurrency=1)
        release = threading.Event()
        try:
            with pytest.raises(StorageTimeout, match=r"within 0\.001 s"):
                await calls.run("query", lambda: release.wait(10), timeout_s=0.001)
        finally:
            release.set()

    asyncio.run(scenario())
