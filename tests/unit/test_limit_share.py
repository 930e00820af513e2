"""How limits compose with replicas, as arithmetic: the share one process enforces, which
processes count as live, and when a process falls back to local limits."""

from __future__ import annotations

import contextlib

import pytest

from luminate.limits.buckets import BucketSet
from luminate.limits.config import LimitsTable, TenantLimits
from luminate.limits.limiter import Limit, Limiter
from luminate.limits.share import LOCAL, MemberView, Mode, Share, live_members
from luminate.model.coordination import MemberBeat
from luminate.model.errors import TooManyRequests
from luminate.observability.metrics import Metrics
from luminate.settings import load_settings

TIMEOUT_MS = 30_000
NOW = 1_000_000


def beat(member: str, age_ms: int, *, leaving: bool = False) -> MemberBeat:
    return MemberBeat(member, "host", 0, NOW - age_ms, leaving)


@pytest.mark.parametrize(
    ("members", "rate", "slots"),
    [(1, 90.0, 10), (3, 30.0, 4), (4, 22.5, 3), (10, 9.0, 1), (25, 3.6, 1)],
)
def test_global_mode_divides_rates_and_rounds_slots_up(
    members: int, rate: float, slots: int
) -> None:
    share = Share(Mode.GLOBAL, members)
    assert share.rate(90.0) == pytest.approx(rate)
    # Rounded up and never zero, so a tenant can always run a query on every process.
    assert share.slots(10) == slots
    assert share.divided is (members > 1)


def test_local_mode_enforces_the_configured_limits() -> None:
    assert LOCAL.rate(90.0) == 90.0
    assert LOCAL.slots(10) == 10
    assert LOCAL.members == 1
    assert not LOCAL.divided


def test_buckets_of_the_fleet_together_hold_the_configured_rate() -> None:
    # Three processes each admit a third: over ten seconds, about the configured total.
    share = Share(Mode.GLOBAL, 3)
    admitted = 0
    for _process in range(3):
        buckets = BucketSet()
        rate = share.rate(30.0)
        for tick in range(1000):  # a request every 10 ms for 10 s: 100/s offered per process
            if buckets.take(("t", "write_rps"), rate, rate * 1.0, 1, tick / 100).allowed:
                admitted += 1
    # 30/s for 10 s, plus the fleet's one-second burst.
    assert 300 <= admitted <= 331


def test_live_members_expire_after_the_timeout_and_when_leaving() -> None:
    beats = [
        beat("fresh", 0),
        beat("late", TIMEOUT_MS - 1),
        beat("expired", TIMEOUT_MS),
        beat("long-gone", 10 * TIMEOUT_MS),
        beat("leaving", 100, leaving=True),
    ]
    assert live_members(beats, "fresh", NOW, TIMEOUT_MS) == 2  # fresh and late
    # This process always counts, even before its own beat is visible.
    assert live_members(beats, "me", NOW, TIMEOUT_MS) == 3
    assert live_members([], "me", NOW, TIMEOUT_MS) == 1


def test_the_view_keeps_a_count_until_it_is_older_than_the_timeout() -> None:
    view = MemberView(Mode.GLOBAL, timeout_s=30.0)
    assert view.share(0.0) == LOCAL  # nothing known yet
    view.observed(3, now=100.0)
    assert view.share(100.0) == Share(Mode.GLOBAL, 3)
    view.failed("storage unreachable")
    assert view.share(129.9) == Share(Mode.GLOBAL, 3)  # one failed heartbeat changes nothing
    assert view.share(130.0) == LOCAL  # too old: fall back
    assert view.problem == "storage unreachable"
    view.observed(2, now=140.0)
    assert view.share(140.0) == Share(Mode.GLOBAL, 2)
    assert view.problem is None


def test_configured_local_mode_never_divides() -> None:
    view = MemberView(Mode.LOCAL, timeout_s=30.0)
    view.observed(5, now=0.0)
    assert view.share(0.0) == LOCAL


def _limiter(members: int) -> tuple[Limiter, TenantLimits]:
    settings = load_settings(
        {"LUMINATE_RATELIMIT_WRITE_RPS": "30", "LUMINATE_RATELIMIT_BURST_SECONDS": "1"}
    )
    limits = TenantLimits.from_settings(settings)
    limiter = Limiter(
        LimitsTable(limits), Metrics("embedded"), 60, share=lambda: Share(Mode.GLOBAL, members)
    )
    return limiter, limits


def test_the_limiter_enforces_its_share_and_says_so() -> None:
    limiter, limits = _limiter(3)
    for _ in range(10):  # a full bucket holds one second of a third of 30
        limiter.request("acme", limits, Limit.WRITE_RPS)
    with pytest.raises(TooManyRequests) as refused:
        limiter.request("acme", limits, Limit.WRITE_RPS)
    assert "limit of 30 requests per second across 3 processes, 10 in this one" in str(
        refused.value.message
    )
    assert refused.value.details["configured"] == 30
    assert refused.value.details["processes"] == 3
    assert refused.value.headers["X-RateLimit-Limit"] == "10"


def test_query_slots_are_shared_too() -> None:
    limiter, limits = _limiter(4)  # 10 slots over 4 processes: 3 here
    with contextlib.ExitStack() as running:
        for _ in range(3):
            running.enter_context(limiter.query_slot("acme", limits))
        with pytest.raises(TooManyRequests) as refused, limiter.query_slot("acme", limits):
            pass
    assert "its share of 10 across 4 processes" in str(refused.value.message)
    assert refused.value.headers["X-RateLimit-Limit"] == "3"
