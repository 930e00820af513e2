from __future__ import annotations

import asyncio
import threading

import pytest

from luminate.ingest.batcher import Batcher
from luminate.model.points import TenantPoints
from luminate.storage.errors import StorageUnavailable


def points(tenant: str, n: int) -> TenantPoints:
    return TenantPoints(tenant, ["m"] * n, list(range(n)), [1.0] * n, [[]] * n, [[]] * n)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[TenantPoints]] = []
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()

    def write(self, batches: list[TenantPoints]) -> int:
        self.gate.wait(5)
        if self.fail:
            raise StorageUnavailable("down")
        self.batches.append(batches)
        return sum(len(b) for b in batches)


def test_concurrent_requests_share_one_insert_and_wait_for_it() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        rec.gate.clear()
        b = Batcher(rec.write, max_points=1000, max_delay_s=0.05)
        b.start()
        tasks = [asyncio.create_task(b.submit(points(f"t{i}", 10))) for i in range(5)]
        await asyncio.sleep(0.1)
        assert not any(t.done() for t in tasks), "nobody is answered before the insert"
        rec.gate.set()
        await asyncio.gather(*tasks)
        await b.close()
        return rec

    rec = asyncio.run(scenario())
    assert len(rec.batches) == 1
    assert sorted(p.tenant for p in rec.batches[0]) == [f"t{i}" for i in range(5)]


def test_size_cap_splits_batches() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        b = Batcher(rec.write, max_points=25, max_delay_s=0.05)
        b.start()
        await asyncio.gather(*(b.submit(points("t", 10)) for _ in range(6)))
        await b.close()
        return rec

    rec = asyncio.run(scenario())
    assert sum(len(batch) for batch in rec.batches) == 6
    assert all(sum(len(p) for p in batch) <= 30 for batch in rec.batches)
    assert len(rec.batches) >= 2


def test_a_failed_insert_fails_every_request_in_it_and_the_loop_survives() -> None:
    async def scenario() -> None:
        rec = Recorder(fail=True)
        b = Batcher(rec.write, max_points=1000, max_delay_s=0.01)
        b.start()
        results = await asyncio.gather(
            *(b.submit(points("t", 1)) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, StorageUnavailable) for r in results)
        rec.fail = False
        await b.submit(points("t", 1))
        await b.close()
        assert len(rec.batches) == 1

    asyncio.run(scenario())


def test_close_flushes_pending_work_and_refuses_new_work() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        b = Batcher(rec.write, max_points=1000, max_delay_s=0.2)
        b.start()
        pending = asyncio.create_task(b.submit(points("t", 3)))
        await asyncio.sleep(0)
        await b.close()
        await pending
        with pytest.raises(RuntimeError):
            await b.submit(points("t", 1))
        return rec

    rec = asyncio.run(scenario())
    assert sum(len(p) for batch in rec.batches for p in batch) == 3


# A delay far longer than any test waits: a write answered within WAIT_S did not wait it out.
LONG_DELAY_S = 60.0
WAIT_S = 10.0


def test_a_lone_write_is_inserted_at_once() -> None:
    """Nothing else is arriving, so the insert does not wait for the delay."""

    async def scenario() -> Recorder:
        rec = Recorder()
        b = Batcher(rec.write, max_points=1000, max_delay_s=LONG_DELAY_S)
        b.start()
        await asyncio.wait_for(b.submit(points("t", 5)), WAIT_S)
        await asyncio.wait_for(b.submit(points("t", 5)), WAIT_S)
        await b.close()
        return rec

    rec = asyncio.run(scenario())
    assert [[len(p) for p in batch] for batch in rec.batches] == [[5], [5]]


async def _arriving_request(
    b: Batcher, release: asyncio.Event, tenant: str, *, give_up: bool = False
) -> None:
    """A request announced at once whose points are ready only once `release` is set."""
    with b.arriving():
        await release.wait()
        if give_up:
            raise ValueError("refused while decoding")
        await b.submit(points(tenant, 10))


def test_an_insert_waits_for_writes_that_are_arriving() -> None:
    async def scenario() -> tuple[Recorder, list[int]]:
        rec = Recorder()
        b = Batcher(rec.write, max_points=1000, max_delay_s=LONG_DELAY_S)
        b.start()
        release = asyncio.Event()
        others = [asyncio.create_task(_arriving_request(b, release, f"t{i}")) for i in (1, 2)]
        await asyncio.sleep(0)
        seen = [b.arriving_count]
        first = asyncio.create_task(b.submit(points("t0", 10)))
        await asyncio.sleep(0.1)
        assert not first.done(), "the first write left without the ones arriving"
        assert rec.batches == []
        release.set()
        await asyncio.wait_for(asyncio.gather(first, *others), WAIT_S)
        seen.append(b.arriving_count)
        await b.close()
        return rec, seen

    rec, seen = asyncio.run(scenario())
    assert seen == [2, 0]
    assert len(rec.batches) == 1
    assert sorted(p.tenant for p in rec.batches[0]) == ["t0", "t1", "t2"]


def test_an_arriving_write_that_fails_does_not_hold_the_insert() -> None:
    async def scenario() -> tuple[Recorder, BaseException | None]:
        rec = Recorder()
        b = Batcher(rec.write, max_points=1000, max_delay_s=LONG_DELAY_S)
        b.start()
        release = asyncio.Event()
        refused = asyncio.create_task(_arriving_request(b, release, "t1", give_up=True))
        await asyncio.sleep(0)
        first = asyncio.create_task(b.submit(points("t0", 10)))
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.wait_for(first, WAIT_S)
        error = (await asyncio.gather(refused, return_exceptions=True))[0]
        assert b.arriving_count == 0
        await b.close()
        return rec, error

    rec, error = asyncio.run(scenario())
    assert isinstance(error, ValueError)
    assert [[p.tenant for p in batch] for batch in rec.batches] == [["t0"]]


def test_the_wait_for_arriving_writes_ends_at_the_delay() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        b = Batcher(rec.write, max_points=1000, max_delay_s=0.05)
        b.start()
        release = asyncio.Event()
        slow = asyncio.create_task(_arriving_request(b, release, "t1"))
        await asyncio.sleep(0)
        await asyncio.wait_for(b.submit(points("t0", 10)), WAIT_S)
        assert not slow.done() and b.arriving_count == 1
        release.set()
        await asyncio.wait_for(slow, WAIT_S)
        await b.close()
        return rec

    rec = asyncio.run(scenario())
    assert [[p.tenant for p in batch] for batch in rec.batches] == [["t0"], ["t1"]]
