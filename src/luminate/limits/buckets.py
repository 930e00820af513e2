"""Token buckets: a rate with a burst, refilled continuously, one per tenant and limit."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """The outcome of one take, with what the X-RateLimit-* headers report."""

    allowed: bool
    limit: float  # the rate, per second
    remaining: int  # whole tokens left after this take
    reset_s: int  # seconds until the bucket is full again
    retry_after_s: int  # when refused: seconds until this cost would be admitted

    def headers(self) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(max(1, math.ceil(self.limit))),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


class TokenBucket:
    """`capacity` tokens at most, `rate` per second refill. A cost larger than the capacity is
    admitted only from a full bucket and leaves it in debt, so an oversized batch waits its turn
    instead of being refused forever."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self.tokens = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, cost: float, now: float) -> Decision:
        self.refill(now)
        allowed = self.tokens >= cost or (cost > self.capacity and self.tokens >= self.capacity)
        retry = 0
        if allowed:
            self.tokens -= cost
        else:
            needed = min(cost, self.capacity) - self.tokens
            retry = max(1, math.ceil(needed / self.rate))
        return Decision(
            allowed=allowed,
            limit=self.rate,
            remaining=max(0, math.floor(self.tokens)),
            reset_s=max(0, math.ceil((self.capacity - self.tokens) / self.rate)),
            retry_after_s=retry,
        )

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.capacity


class BucketSet:
    """Buckets by key, created on first use. Full buckets carry no state worth keeping, so they
    are dropped when the set grows large (many tenants, each seen once)."""

    def __init__(self, max_idle: int = 50_000) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._max = max_idle

    def take(
        self, key: tuple[str, str], rate: float, capacity: float, cost: float, now: float
    ) -> Decision:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max:
                self._sweep(now)
            bucket = self._buckets[key] = TokenBucket(rate, capacity, now)
        elif bucket.rate != rate or bucket.capacity != max(1.0, capacity):
            # Limits changed (an overrides reload): keep the level, apply the new shape.
            bucket.refill(now)
            bucket.rate = rate
            bucket.capacity = max(1.0, capacity)
            bucket.tokens = min(bucket.tokens, bucket.capacity)
        return bucket.take(cost, now)

    def _sweep(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
