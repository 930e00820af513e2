"""The one place tenant limits are enforced: request rates, point rates, concurrent queries and
new series. Every refusal names its limit and is counted."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from enum import StrEnum

from luminate.limits.buckets import BucketSet, Decision
from luminate.limits.config import LimitsTable, TenantLimits, source
from luminate.limits.series import Admission, SeriesLimiter, series_hashes
from luminate.limits.share import LOCAL, Share
from luminate.model.errors import ErrorCode, TooManyRequests
from luminate.model.points import TenantPoints
from luminate.observability.metrics import Metrics


class Limit(StrEnum):
    """The `limit` label of luminate_rate_limit_rejected_total and of 429 details."""

    WRITE_RPS = "write_rps"
    QUERY_RPS = "query_rps"
    METRICS_PER_SEC = "metrics_per_sec"
    CONCURRENT_QUERIES = "concurrent_queries"


class Limiter:
    """`share` says which part of each configured rate and slot count this process enforces
    (all of it unless processes coordinate, see `limits/coordination.py`)."""

    def __init__(
        self,
        table: LimitsTable,
        metrics: Metrics,
        series_window_s: float,
        share: Callable[[], Share] = lambda: LOCAL,
    ) -> None:
        self.table = table
        self._metrics = metrics
        self._buckets = BucketSet()
        self._running: dict[str, int] = {}
        self.series = SeriesLimiter(series_window_s, on_drop=self._forget)
        self.share = share

    def limits(self, tenant: str, tier: str | None) -> TenantLimits:
        return self.table.for_principal(tenant, tier)

    def request(self, tenant: str, limits: TenantLimits, limit: Limit) -> Decision:
        """Take one request token; raises 429 when the bucket is empty."""
        rate = limits.write_rps if limit is Limit.WRITE_RPS else limits.query_rps
        return self._take(tenant, limit, rate, limits.burst_seconds, 1)

    def points(self, tenant: str, limits: TenantLimits, n: int) -> Decision:
        """Take `n` point tokens (a write costs its number of points); raises 429 when short."""
        return self._take(
            tenant, Limit.METRICS_PER_SEC, limits.metrics_per_sec, limits.burst_seconds, n
        )

    def _take(
        self, tenant: str, limit: Limit, configured: float, burst_s: float, cost: int
    ) -> Decision:
        share = self.share()
        # The bucket holds burst_seconds of this process's share, so the fleet's buckets
        # together hold burst_seconds of the configured rate.
        rate = share.rate(configured)
        decision = self._buckets.take(
            (tenant, limit.value), rate, rate * burst_s, cost, time.monotonic()
        )
        if not decision.allowed:
            self._metrics.rate_limited.labels(tenant_id=tenant, limit=limit.value).inc()
            unit = "points" if limit is Limit.METRICS_PER_SEC else "requests"
            where = (
                f" across {share.members} processes, {rate:g} in this one" if share.divided else ""
            )
            raise TooManyRequests(
                f"tenant {tenant!r} is over its {limit.value} limit of {configured:g} {unit} "
                f"per second{where} ({source(limit.value)}); retry after "
                f"{decision.retry_after_s} s",
                code=ErrorCode.RATE_LIMITED,
                details={
                    "limit": limit.value,
                    "rate": rate,
                    "cost": cost,
                    "configured": configured,
                    "processes": share.members,
                },
                headers=decision.headers(),
            )
        return decision

    @contextlib.contextmanager
    def query_slot(self, tenant: str, limits: TenantLimits) -> Iterator[None]:
        """Hold one of the tenant's concurrent query slots; 429 at once when none is free."""
        running = self._running.get(tenant, 0)
        share = self.share()
        slots = share.slots(limits.concurrent_queries)
        if running >= slots:
            self._metrics.rate_limited.labels(
                tenant_id=tenant, limit=Limit.CONCURRENT_QUERIES.value
            ).inc()
            raise TooManyRequests(
                f"tenant {tenant!r} already runs {running} queries, its limit"
                + (
                    f" in this process (its share of {limits.concurrent_queries} across "
                    f"{share.members} processes)"
                    if share.divided
                    else ""
                )
                + f" ({source(Limit.CONCURRENT_QUERIES.value)}); retry when one finishes",
                code=ErrorCode.TOO_MANY_CONCURRENT_QUERIES,
                details={"limit": Limit.CONCURRENT_QUERIES.value, "running": running},
                # For a slot limit, Limit is the number of slots and none remains.
                headers={
                    "X-RateLimit-Limit": str(slots),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": "1",
                    "Retry-After": "1",
                },
            )
        self._running[tenant] = running + 1
        try:
            yield
        finally:
            left = self._running[tenant] - 1
            if left:
                self._running[tenant] = left
            else:
                del self._running[tenant]

    def admit_series(self, points: TenantPoints, limits: TenantLimits) -> Admission:
        """Which points would create a series past the tenant's limits (to be refused)."""
        tracker = self.series.tenant(points.tenant, time.time())
        hashes = series_hashes(points.names, points.keys, points.dim_values)
        admission = tracker.admit(
            points.names, hashes, limits.max_series, limits.max_series_per_metric
        )
        self._metrics.active_series.labels(tenant_id=points.tenant).set(admission.estimate)
        self._metrics.series_limit.labels(tenant_id=points.tenant).set(limits.max_series)
        return admission

    def _forget(self, tenant: str) -> None:
        """The tenant's series tracker was dropped (its window ended without writes)."""
        self._metrics.active_series.remove(tenant)
        self._metrics.series_limit.remove(tenant)
