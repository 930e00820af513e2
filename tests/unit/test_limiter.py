"""The limiter, the one place tenant limits are enforced: request and point rates per tenant
with their headers and counters, concurrent query slots that are given back whatever happens,
new series refused past the tenant's limits, and limits looked up with overrides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from luminate.limits.config import LimitsTable, TenantLimits
from luminate.limits.limiter import Limit, Limiter
from luminate.model.errors import ErrorCode, TooManyRequests
from luminate.model.points import TenantPoints
from luminate.observability.metrics import Metrics
from luminate.settings import load_settings
from tests.support.samples import sample

DEFAULTS = TenantLimits.from_settings(load_settings({}))
TIGHT = replace(
    DEFAULTS, write_rps=2, query_rps=3, metrics_per_sec=10, burst_seconds=1, concurrent_queries=2
)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(backend="embedded")


@pytest.fixture
def limiter(metrics: Metrics) -> Limiter:
    return Limiter(LimitsTable(DEFAULTS), metrics, series_window_s=3600)


def rejected(metrics: Metrics, tenant: str, limit: Limit) -> float:
    return sample(
        metrics.registry, "luminate_rate_limit_rejected_total", tenant_id=tenant, limit=limit
    )


def test_requests_past_the_rate_are_refused_with_headers_and_counted(
    limiter: Limiter, metrics: Metrics
) -> None:
    first = limiter.request("acme", TIGHT, Limit.WRITE_RPS)
    assert first.headers()["X-RateLimit-Limit"] == "2"
    assert first.headers()["X-RateLimit-Remaining"] == "1"
    limiter.request("acme", TIGHT, Limit.WRITE_RPS)
    with pytest.raises(TooManyRequests) as refused:
        limiter.request("acme", TIGHT, Limit.WRITE_RPS)
    error = refused.value
    assert (error.code, error.status) == (ErrorCode.RATE_LIMITED, 429)
    assert error.details == {
        "limit": "write_rps",
        "rate": 2,
        "cost": 1,
        "configured": 2,
        "processes": 1,
    }
    assert "LUMINATE_RATELIMIT_WRITE_RPS" in error.message
    assert int(error.headers["Retry-After"]) >= 1
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert rejected(metrics, "acme", Limit.WRITE_RPS) == 1
    # Writes and queries have buckets of their own, and so does every tenant.
    assert limiter.request("acme", TIGHT, Limit.QUERY_RPS).allowed
    assert limiter.request("other", TIGHT, Limit.WRITE_RPS).allowed
    assert rejected(metrics, "other", Limit.WRITE_RPS) == 0


def test_points_cost_their_number(limiter: Limiter, metrics: Metrics) -> None:
    assert limiter.points("acme", TIGHT, 8).allowed
    with pytest.raises(TooManyRequests) as refused:
        limiter.points("acme", TIGHT, 5)
    assert refused.value.details == {
        "limit": "metrics_per_sec",
        "rate": 10,
        "cost": 5,
        "configured": 10,
        "processes": 1,
    }
    assert "points per second" in refused.value.message
    assert rejected(metrics, "acme", Limit.METRICS_PER_SEC) == 1


def test_query_slots_are_limited_and_given_back_even_on_failure(
    limiter: Limiter, metrics: Metrics
) -> None:
    with limiter.query_slot("acme", TIGHT), limiter.query_slot("acme", TIGHT):
        with pytest.raises(TooManyRequests) as refused, limiter.query_slot("acme", TIGHT):
            pass  # pragma: no cover
        with limiter.query_slot("other", TIGHT):
            pass
    error = refused.value
    assert error.code is ErrorCode.TOO_MANY_CONCURRENT_QUERIES
    assert error.details == {"limit": "concurrent_queries", "running": 2}
    assert error.headers == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1",
        "Retry-After": "1",
    }
    assert rejected(metrics, "acme", Limit.CONCURRENT_QUERIES) == 1
    with pytest.raises(RuntimeError), limiter.query_slot("acme", TIGHT):
        raise RuntimeError("the query failed")
    # Both slots are free again: the failed query gave its slot back.
    with limiter.query_slot("acme", TIGHT), limiter.query_slot("acme", TIGHT):
        pass


def series(tenant: str, metric: str, *users: int) -> TenantPoints:
    n = len(users)
    return TenantPoints(
        tenant,
        names=[metric] * n,
        timestamps=[0] * n,
        values=[1.0] * n,
        keys=[["user"]] * n,
        dim_values=[[f"u{u}"] for u in users],
    )


def test_new_series_past_the_limits_are_refused_and_known_ones_admitted(
    limiter: Limiter, metrics: Metrics
) -> None:
    limits = replace(DEFAULTS, max_series=3, max_series_per_metric=2)
    first = limiter.admit_series(series("acme", "m", 0, 1), limits)
    assert first.refused == []
    per_metric = limiter.admit_series(series("acme", "m", 0, 2), limits)
    assert per_metric.refused == [(1, "max_series_per_metric")]
    tenant_wide = limiter.admit_series(series("acme", "n", 5, 6), limits)
    assert tenant_wide.refused == [(1, "max_series")]
    assert limiter.admit_series(series("acme", "m", 1, 0), limits).refused == []
    assert sample(metrics.registry, "luminate_tenant_active_series", tenant_id="acme") == 3
    assert limiter.admit_series(series("other", "m", 7, 8), limits).refused == []


def test_limits_come_from_tenant_and_tier_overrides(tmp_path: Path, metrics: Metrics) -> None:
    overrides = tmp_path / "limits.yaml"
    overrides.write_text(
        yaml.safe_dump({"tiers": {"free": {"write_rps": 3}}, "tenants": {"vip": {"write_rps": 9}}})
    )
    limiter = Limiter(LimitsTable(DEFAULTS, str(overrides)), metrics, series_window_s=3600)
    assert limiter.limits("someone", None) == DEFAULTS
    assert limiter.limits("someone", "free").write_rps == 3
    assert limiter.limits("vip", "free").write_rps == 9  # the tenant's own entry wins
