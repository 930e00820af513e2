from __future__ import annotations

import pytest

from luminate.limits.buckets import BucketSet, TokenBucket


def test_a_full_bucket_admits_its_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=10, capacity=20, now=0.0)
    allowed = [bucket.take(1, 0.0).allowed for _ in range(25)]
    assert allowed == [True] * 20 + [False] * 5


def test_tokens_refill_at_the_rate() -> None:
    bucket = TokenBucket(rate=10, capacity=20, now=0.0)
    for _ in range(20):
        bucket.take(1, 0.0)
    assert not bucket.take(1, 0.0).allowed
    assert [bucket.take(1, 0.5).allowed for _ in range(6)] == [True] * 5 + [False]


def test_refill_never_exceeds_the_capacity() -> None:
    bucket = TokenBucket(rate=10, capacity=20, now=0.0)
    decision = bucket.take(1, 3600.0)
    assert decision.remaining == 19


def test_headers_of_a_refusal_say_when_to_retry() -> None:
    bucket = TokenBucket(rate=4, capacity=4, now=0.0)
    for _ in range(4):
        assert bucket.take(1, 0.0).allowed
    refused = bucket.take(1, 0.0)
    assert not refused.allowed
    assert refused.headers() == {
        "X-RateLimit-Limit": "4",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1",
        "Retry-After": "1",
    }


def test_headers_of_an_admission_count_down() -> None:
    bucket = TokenBucket(rate=100, capacity=200, now=0.0)
    first = bucket.take(1, 0.0)
    assert first.allowed
    assert first.headers() == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "199",
        "X-RateLimit-Reset": "1",
    }


def test_a_cost_larger_than_the_burst_passes_from_a_full_bucket_and_leaves_a_debt() -> None:
    bucket = TokenBucket(rate=1000, capacity=2000, now=0.0)
    assert bucket.take(5000, 0.0).allowed
    refused = bucket.take(1, 0.0)
    assert not refused.allowed
    # 3000 tokens of debt plus one: 3.001 s at 1000/s.
    assert refused.retry_after_s == 4
    assert bucket.take(5000, 1.0).allowed is False
    assert bucket.take(5000, 5.0).allowed


def test_retry_after_for_a_large_cost_waits_for_a_full_bucket_only() -> None:
    bucket = TokenBucket(rate=100, capacity=200, now=0.0)
    bucket.take(150, 0.0)
    refused = bucket.take(10_000, 0.0)
    assert not refused.allowed
    assert refused.retry_after_s == 2  # 150 tokens to refill at 100/s


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_slow_rates_still_admit_one_request(rate: float) -> None:
    bucket = TokenBucket(rate=rate, capacity=rate * 2, now=0.0)
    assert bucket.take(1, 0.0).allowed
    refused = bucket.take(1, 0.0)
    assert not refused.allowed
    assert refused.retry_after_s == round(1 / rate)
    assert refused.headers()["X-RateLimit-Limit"] == "1"


def test_bucket_sets_keep_keys_apart() -> None:
    buckets = BucketSet()
    assert buckets.take(("a", "write_rps"), 1, 1, 1, 0.0).allowed
    assert not buckets.take(("a", "write_rps"), 1, 1, 1, 0.0).allowed
    assert buckets.take(("b", "write_rps"), 1, 1, 1, 0.0).allowed
    assert buckets.take(("a", "query_rps"), 1, 1, 1, 0.0).allowed


def test_a_changed_limit_applies_to_an_existing_bucket() -> None:
    buckets = BucketSet()
    for _ in range(10):
        assert buckets.take(("a", "write_rps"), 10, 10, 1, 0.0).allowed
    assert not buckets.take(("a", "write_rps"), 10, 10, 1, 0.0).allowed
    # Raised to 1000/s: the time until now refills at the old rate, what follows at the new.
    assert not buckets.take(("a", "write_rps"), 1000, 1000, 1, 0.001).allowed
    assert buckets.take(("a", "write_rps"), 1000, 1000, 1, 0.003).allowed


def test_full_buckets_are_dropped_when_the_set_is_large() -> None:
    buckets = BucketSet(max_idle=100)
    for i in range(100):
        buckets.take((f"t{i}", "write_rps"), 1, 1, 1, 0.0)
    # An hour later every bucket is full again; the next new key sweeps them.
    buckets.take(("new", "write_rps"), 1, 1, 1, 3600.0)
    assert len(buckets) == 1
