"""The read path below HTTP: a query model in, model rows out, for one tenant only. A tenant's
budgets shape what a query may ask for; a query past its rows budget or its time budget is
stopped by the engine and refused with the budget named; discovery answers model values."""

from __future__ import annotations

from dataclasses import replace

import pytest

from luminate.limits.config import TenantLimits
from luminate.model.catalog import DimensionKey, DimensionValue
from luminate.model.errors import ErrorCode, UnprocessableQuery
from luminate.model.points import TenantPoints
from luminate.model.query import (
    AggregateRow,
    Aggregation,
    Query,
    QueryLimits,
    QueryType,
    RangePoint,
    TimeRange,
)
from luminate.observability.metrics import Metrics
from luminate.query.service import QueryService
from luminate.settings import load_settings
from luminate.storage.calls import StorageCalls
from luminate.storage.store import Storage
from tests.support.clock import now_ms
from tests.support.samples import sample
from tests.support.tenants import new_tenant

pytestmark = pytest.mark.anyio

DEFAULTS = TenantLimits.from_settings(load_settings({}))
GLOBAL = QueryLimits(
    default_limit=1000,
    max_limit=100_000,
    default_timeout_s=10,
    max_timeout_s=60,
    max_buckets=11_000,
)
# Enough stored points that a p99 per user takes the engine longer than a millisecond.
HEAVY_POINTS = 300_000
HEAVY_USERS = 50_000


@pytest.fixture
def service(storage: Storage, calls: StorageCalls) -> QueryService:
    return QueryService(storage, calls, GLOBAL)


def window() -> TimeRange:
    return TimeRange(now_ms() - 3_600_000, now_ms() + 1000)


def points(tenant: str, n: int, metric: str = "svc_q", users: int = 3) -> TenantPoints:
    start = now_ms() - 60_000
    return TenantPoints(
        tenant,
        names=[metric] * n,
        timestamps=[start + i for i in range(n)],
        values=[float(i) for i in range(n)],
        keys=[["user"]] * n,
        dim_values=[[f"u{i % users}"] for i in range(n)],
    )


@pytest.fixture(scope="module")
def heavy(storage: Storage) -> str:
    """A tenant with many points of many users, written once for the module."""
    tenant = new_tenant("heavy")
    storage.write([points(tenant, HEAVY_POINTS, "latency", HEAVY_USERS)])
    return tenant


def test_a_tenants_budgets_bound_the_global_rules(service: QueryService) -> None:
    tight = replace(
        DEFAULTS,
        query_max_limit=10,
        query_max_timeout_seconds=2,
        query_max_range_seconds=86_400,
        query_max_rows_scanned=50,
    )
    budget = service.budget(tight)
    assert (budget.max_limit, budget.default_limit) == (10, 10)
    assert (budget.max_timeout_s, budget.default_timeout_s) == (2, 2)
    assert (budget.max_range_s, budget.max_rows_scanned) == (86_400, 50)
    assert budget.max_buckets == GLOBAL.max_buckets
    roomy = service.budget(replace(DEFAULTS, query_max_limit=1_000_000))
    assert (roomy.max_limit, roomy.default_limit) == (1_000_000, GLOBAL.default_limit)


async def test_a_query_answers_model_rows_of_its_tenant_only(
    service: QueryService, storage: Storage, tenant: str
) -> None:
    other = new_tenant("svc-other")
    storage.write([points(tenant, 6), points(other, 50)])
    ranged = await service.query(tenant, Query(QueryType.RANGE, "svc_q", window()))
    values = [r.value for r in ranged.rows if isinstance(r, RangePoint)]
    assert values == [float(i) for i in range(6)]
    assert len(ranged.rows) == 6
    assert ranged.truncated is False
    assert ranged.points_scanned >= 6
    summed = await service.query(
        tenant,
        Query(
            QueryType.AGGREGATE,
            "svc_q",
            window(),
            aggregation=Aggregation.SUM,
            group_by=("user",),
        ),
    )
    groups = {r.group: (r.value, r.count) for r in summed.rows if isinstance(r, AggregateRow)}
    assert groups == {("u0",): (3.0, 2), ("u1",): (5.0, 2), ("u2",): (7.0, 2)}


async def test_a_query_past_its_rows_budget_names_the_budget(
    service: QueryService, storage: Storage, tenant: str
) -> None:
    storage.write([points(tenant, 100)])
    q = Query(QueryType.RANGE, "svc_q", window(), max_rows_scanned=50)
    with pytest.raises(UnprocessableQuery) as refused:
        await service.query(tenant, q)
    assert refused.value.code is ErrorCode.TOO_MANY_ROWS_SCANNED
    assert refused.value.status == 422
    assert refused.value.details == {"budget": "query_max_rows_scanned", "limit": 50}
    assert "LUMINATE_QUERY_MAX_ROWS_SCANNED" in refused.value.message
    # The control: the same query within a budget that covers what the engine reads is
    # answered. The engine reads whole granules (8192 rows), and in the session's shared store
    # those hold other tenants' rows too.
    answered = await service.query(tenant, replace(q, max_rows_scanned=1_000_000))
    assert len(answered.rows) == 100


async def test_a_query_past_its_time_budget_is_cancelled_and_names_it(
    service: QueryService, heavy: str, metrics: Metrics
) -> None:
    base = Query(
        QueryType.AGGREGATE,
        "latency",
        TimeRange(now_ms() - 3_600_000, now_ms() + 1000),
        aggregation=Aggregation.P99,
        group_by=("user",),
        limit=100_000,
    )
    refusals = []
    for timeout_s in (0.001, 0.005, 0.02):
        try:
            await service.query(heavy, replace(base, timeout_s=timeout_s))
        except UnprocessableQuery as exc:
            refusals.append(exc)
    assert refusals, "no query timed out; the data is too small for this machine"
    first = refusals[0]
    assert first.code is ErrorCode.QUERY_TIMEOUT
    assert first.status == 422
    assert first.details["budget"] == "query_max_timeout_seconds"
    assert "LUMINATE_QUERY_MAX_TIMEOUT_SECONDS" in first.message
    assert sample(metrics.registry, "luminate_storage_errors_total", op="query") == len(refusals)
    # The control: with time enough, the same query answers a row per user.
    answered = await service.query(heavy, replace(base, timeout_s=60))
    assert len(answered.rows) == HEAVY_USERS


async def test_discovery_answers_the_tenants_names_keys_and_values(
    service: QueryService, storage: Storage, tenant: str
) -> None:
    storage.write([points(tenant, 9), points(new_tenant("svc-other"), 4, "svc_elsewhere")])
    metrics, truncated = await service.metrics(tenant, None, 10)
    assert ([m.name for m in metrics], [m.points for m in metrics], truncated) == (
        ["svc_q"],
        [9],
        False,
    )
    keys, _ = await service.dimension_keys(tenant, "svc_q", None, 10)
    assert keys == [DimensionKey(key="user", points=9, values=3)]
    values, truncated = await service.dimension_values(tenant, "svc_q", "user", None, 2)
    assert values == [DimensionValue("u0", 3), DimensionValue("u1", 3)]
    assert truncated is True
    cardinality = await service.cardinality(tenant, None, 10)
    assert cardinality.series == 3
    assert cardinality.metrics == [("svc_q", 3)]
    assert cardinality.keys == [("user", 3)]
