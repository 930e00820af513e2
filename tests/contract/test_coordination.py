"""The coordination tables on every backend: heartbeats collapse to each process's latest, and
series snapshots round-trip byte for byte, newest per (tenant, process). On the cluster a row
reaches the server that answers a read by replication, so reads wait for what was written."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from luminate.model.coordination import MemberBeat, SeriesState
from luminate.model.time import now_ms
from luminate.storage.store import Storage

T = TypeVar("T")


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _settles(read: Callable[[], T], expected: T, timeout_s: float = 30.0) -> None:
    """`read()` comes to return `expected`: cluster replicas catch up asynchronously, and
    deletions are mutations, which every engine applies asynchronously."""
    deadline = time.monotonic() + timeout_s
    got = read()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        got = read()
    assert got == expected


def test_heartbeats_collapse_to_the_latest_per_process(storage: Storage) -> None:
    now = now_ms()
    a, b, gone = _id("a"), _id("b"), _id("gone")
    storage.members.beat(MemberBeat(a, "host-a", now - 9_000, now - 5_000))
    storage.members.beat(MemberBeat(a, "host-a", now - 9_000, now - 1_000))
    storage.members.beat(MemberBeat(b, "host-b", now - 2_000, now - 2_000))
    storage.members.beat(MemberBeat(b, "host-b", now - 2_000, now - 500, leaving=True))
    storage.members.beat(MemberBeat(gone, "host-c", now - 99_000, now - 60_000))

    def mine() -> list[MemberBeat]:
        return [m for m in storage.members.latest(now - 30_000) if m.member_id in {a, b, gone}]

    # `gone` beat before the moment asked for.
    expected = [
        MemberBeat(a, "host-a", now - 9_000, now - 1_000),
        MemberBeat(b, "host-b", now - 2_000, now - 500, leaving=True),
    ]
    _settles(lambda: sorted(mine(), key=lambda m: m.member_id), expected)


def test_old_heartbeats_are_forgotten(storage: Storage) -> None:
    now = now_ms()
    old, fresh = _id("old"), _id("fresh")
    # Far in the past, so no other test's rows are touched.
    storage.members.beat(MemberBeat(old, "h", 1_000, 2_000))
    storage.members.beat(MemberBeat(fresh, "h", now, now))

    def present() -> set[str]:
        return {m.member_id for m in storage.members.latest(0)} & {old, fresh}

    _settles(present, {old, fresh})
    # On the cluster each call may be answered by another server, which may still lag.
    _settles(lambda: storage.members.forget_before(3_000), True)
    _settles(present, {fresh})
    _settles(lambda: storage.members.forget_before(3_000), False)  # nothing left, no mutation


def test_series_snapshots_round_trip_newest_per_tenant_and_process(storage: Storage) -> None:
    window = 10**12 + uuid.uuid4().int % 10**9 * 1000  # a window of this test's own
    t1, t2, me, other = _id("t1"), _id("t2"), _id("me"), _id("other")
    blob = os.urandom(70_000)  # binary, every byte value
    storage.series_states.save(
        [
            SeriesState(t1, me, window, 100, b"old"),
            SeriesState(t2, other, window, 100, blob),
            SeriesState(t1, me, window - 1, 100, b"another window"),
        ]
    )
    storage.series_states.save([SeriesState(t1, me, window, 200, b"new")])

    def rows() -> dict[tuple[str, str], SeriesState]:
        return {(r.tenant, r.member_id): r for r in storage.series_states.load(window)}

    newest = SeriesState(t1, me, window, 200, b"new")
    theirs = SeriesState(t2, other, window, 100, blob)
    _settles(rows, {(t1, me): newest, (t2, other): theirs})
    # Only what changed after a moment, and none of one process's rows (another replica may
    # answer these reads, so they settle too).
    _settles(
        lambda: storage.series_states.load(window, since_ms=150, exclude_member=other), [newest]
    )
    _settles(lambda: storage.series_states.load(window, exclude_member=me), [theirs])


def test_snapshots_of_past_windows_are_forgotten(storage: Storage) -> None:
    tenant, me = _id("t"), _id("me")
    # Windows far in the past keep this test's deletion away from every other test's rows.
    storage.series_states.save(
        [SeriesState(tenant, me, 1_000, 1, b"past"), SeriesState(tenant, me, 5_000, 1, b"kept")]
    )

    def states(window: int) -> list[bytes]:
        return [r.state for r in storage.series_states.load(window) if r.tenant == tenant]

    _settles(lambda: states(1_000), [b"past"])
    _settles(lambda: storage.series_states.forget_before(2_000), True)
    nothing: list[bytes] = []
    _settles(lambda: states(1_000), nothing)
    assert states(5_000) == [b"kept"]
