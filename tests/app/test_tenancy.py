"""Tenant isolation over HTTP: a tenant sees exactly its own metric names, dimension keys,
dimension values and points through every read endpoint; only an admin token names another
tenant; admin operations on one tenant never touch another."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.inprocess import InProcessApp
from tests.app.tenancy_world import (
    DAY_MS,
    MINUTE_MS,
    SHARED,
    TIMEOUT_S,
    Point,
    Series,
    TenantData,
    World,
    a_series,
    b_series,
    build,
)
from tests.support.clock import now_ms
from tests.support.errors import assert_error
from tests.support.tenants import new_tenant


def write(proc: InProcessApp, tenant: str, points: list[Point], scopes: str = "write") -> None:
    resp = proc.client.post(
        "/api/v1/write",
        headers=proc.headers(tenant, scopes),
        json={"metrics": [p.json() for p in points]},
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"accepted": len(points), "rejected": 0, "errors": []}


@pytest.fixture(scope="module")
def world(server: InProcessApp) -> World:
    base = (now_ms() - 30 * MINUTE_MS) // MINUTE_MS * MINUTE_MS
    a = build(new_tenant("tenant-a"), base, a_series(), a_series()[:1])
    b = build(new_tenant("tenant-b"), base, b_series(), b_series()[:1])
    write(server, a.tenant, a.points)
    write(server, b.tenant, b.points)
    return World(base, a, b)


def get(proc: InProcessApp, path: str, headers: dict[str, str], **params: Any) -> Any:
    resp = proc.client.get(path, headers=headers, params=params or None, timeout=TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    return resp.json()


def query(proc: InProcessApp, headers: dict[str, str], body: dict[str, Any], **params: Any) -> Any:
    resp = proc.client.post(
        "/api/v1/query",
        headers=headers,
        params=params or None,
        json=body,
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


# -- the view of one tenant, through every read endpoint ------------------------------------------


def assert_sees_exactly(
    proc: InProcessApp,
    headers: dict[str, str],
    mine: TenantData,
    other: TenantData,
    world: World,
    **params: str,
) -> None:
    """Every read endpoint (called with `params`) shows exactly `mine`, and nothing of `other`."""
    metrics = get(proc, "/api/v1/metrics", headers, **params)
    assert metrics == {"metrics": mine.metrics_view(), "truncated": False}

    for name in sorted(set(mine.names()) | set(other.names())):
        dims = get(proc, f"/api/v1/metrics/{name}/dimensions", headers, **params)
        assert dims == {
            "metricName": name,
            "dimensions": mine.dimensions_view(name),
            "truncated": False,
        }
        for key in sorted(set(mine.keys()) | set(other.keys())):
            values = get(proc, f"/api/v1/metrics/{name}/dimensions/{key}/values", headers, **params)
            assert values == {
                "metricName": name,
                "key": key,
                "values": mine.values_view(name, key),
                "truncated": False,
            }

    card = get(proc, "/api/v1/cardinality", headers, limit=100, **params)
    assert card["estimatedSeries"] == len({p.series() for p in mine.points})
    assert {m["name"] for m in card["topMetrics"]} == set(mine.names())
    assert {k["key"]: k["estimatedDistinctValues"] for k in card["topDimensionKeys"]} == {
        k: len(v) for k, v in mine.keys().items()
    }

    start, end = world.window
    window = {"start": start, "end": end}
    for name in sorted(set(mine.names()) | set(other.names())):
        ranged = query(
            proc,
            headers,
            {"queryType": "range", "metricName": name, "timeRange": window, "limit": 10_000},
            **params,
        )
        assert ranged["results"] == mine.range_view(name)
        assert ranged["truncated"] is False

    agg = query(
        proc,
        headers,
        {
            "queryType": "aggregate",
            "metricName": SHARED,
            "aggregation": "sum",
            "groupBy": ["region"],
            "timeRange": window,
        },
        **params,
    )
    got = {r["groupKey"]["region"]: (r["value"], r["count"]) for r in agg["results"]}
    assert got == mine.sum_by(SHARED, "region")

    count_eu = query(
        proc,
        headers,
        {
            "queryType": "aggregate",
            "metricName": SHARED,
            "aggregation": "count",
            "filters": {"region": "eu"},
            "timeRange": window,
        },
        **params,
    )
    eu = [p for p in mine.of(SHARED) if p.dimensions["region"] == "eu"]
    assert [r["count"] for r in count_eu["results"]] == ([len(eu)] if eu else [])

    rate = query(
        proc,
        headers,
        {
            "queryType": "rate",
            "metricName": SHARED,
            "interval": "1m",
            "groupBy": ["region"],
            "timeRange": {"start": world.base_ms, "end": end},
        },
        **params,
    )
    rates = {(r["groupKey"]["region"], r["timestamp"]): r["rate"] for r in rate["results"]}
    expected = {
        k: v for k, v in mine.rate_by(SHARED, "region", MINUTE_MS).items() if k[1] >= world.base_ms
    }
    assert rates == pytest.approx(expected)


@pytest.mark.parametrize("who", ["A", "B"])
def test_each_tenant_sees_exactly_its_own_data(
    server: InProcessApp, world: World, who: str
) -> None:
    mine, other = world.pick(who)
    assert_sees_exactly(server, server.headers(mine.tenant, "read"), mine, other, world)


def test_the_two_tenants_really_overlap_and_differ(world: World) -> None:
    """Guards the fixture: shared names, keys and values exist, and so do unique ones."""
    a_keys, b_keys = world.a.keys(), world.b.keys()
    assert SHARED in set(world.a.names()) & set(world.b.names())
    assert set(world.a.names()) ^ set(world.b.names())
    assert {"region", "host"} <= set(a_keys) & set(b_keys)
    assert "eu" in a_keys["region"] & b_keys["region"]
    assert set(a_keys) ^ set(b_keys) == {"a_only_key", "b_only_key"}
    for data in (world.a, world.b):
        assert data.rate_by(SHARED, "region", MINUTE_MS)
        assert any(p.timestamp < world.base_ms for p in data.points)


def test_a_tenant_without_data_sees_nothing(server: InProcessApp, world: World) -> None:
    empty = TenantData(new_tenant("tenant-empty"))
    assert_sees_exactly(server, server.headers(empty.tenant, "read"), empty, world.a, world)


# -- naming another tenant ----------------------------------------------------------------------

READ_PATHS = [
    "/api/v1/metrics",
    f"/api/v1/metrics/{SHARED}/dimensions",
    f"/api/v1/metrics/{SHARED}/dimensions/region/values",
    "/api/v1/cardinality",
]


@pytest.mark.parametrize("scopes", ["read", "read,write"])
@pytest.mark.parametrize("path", READ_PATHS)
def test_a_non_admin_token_cannot_name_another_tenant(
    server: InProcessApp, world: World, path: str, scopes: str
) -> None:
    headers = server.headers(world.a.tenant, scopes)
    resp = server.client.get(
        path, headers=headers, params={"tenant": world.b.tenant}, timeout=TIMEOUT_S
    )
    assert_error(resp, 403, "insufficient_scope")


def test_a_non_admin_query_cannot_name_another_tenant(server: InProcessApp, world: World) -> None:
    resp = server.client.post(
        "/api/v1/query",
        headers=server.headers(world.a.tenant, "read"),
        params={"tenant": world.b.tenant},
        json={"queryType": "range", "metricName": SHARED, "timeRange": {"relative": "7d"}},
        timeout=TIMEOUT_S,
    )
    assert_error(resp, 403, "insufficient_scope")


def test_a_non_admin_write_cannot_name_another_tenant(server: InProcessApp) -> None:
    writer, victim = new_tenant("writer"), new_tenant("victim")
    resp = server.client.post(
        "/api/v1/write",
        headers=server.headers(writer, "read,write"),
        params={"tenant": victim},
        json={"metrics": [{"name": "intruder", "timestamp": now_ms(), "value": 1.0}]},
        timeout=TIMEOUT_S,
    )
    assert_error(resp, 403, "insufficient_scope")
    for tenant in (writer, victim):
        assert get(server, "/api/v1/metrics", server.headers(tenant, "read"))["metrics"] == []


def test_naming_the_own_tenant_is_allowed(server: InProcessApp, world: World) -> None:
    headers = server.headers(world.a.tenant, "read")
    named = get(server, "/api/v1/metrics", headers, tenant=world.a.tenant)
    assert named == {"metrics": world.a.metrics_view(), "truncated": False}


@pytest.mark.parametrize("who", ["A", "B"])
def test_an_admin_token_may_name_a_tenant_and_sees_only_that_tenant(
    server: InProcessApp, world: World, who: str
) -> None:
    mine, other = world.pick(who)
    headers = server.headers(new_tenant("ops"), "read,admin")
    assert_sees_exactly(server, headers, mine, other, world, tenant=mine.tenant)


def test_an_admin_token_naming_an_invalid_tenant_is_refused(
    server: InProcessApp, world: World
) -> None:
    resp = server.client.get(
        "/api/v1/metrics",
        headers=server.headers(world.a.tenant, "read,admin"),
        params={"tenant": "bad tenant'"},
        timeout=TIMEOUT_S,
    )
    assert_error(resp, 400, "invalid_parameter")


def test_an_admin_write_naming_a_tenant_lands_only_there(server: InProcessApp) -> None:
    ops, target = new_tenant("ops"), new_tenant("target")
    resp = server.client.post(
        "/api/v1/write",
        headers=server.headers(ops, "write,admin"),
        params={"tenant": target},
        json={"metrics": [{"name": "backfill", "timestamp": now_ms(), "value": 2.0}]},
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    assert get(server, "/api/v1/metrics", server.headers(ops, "read"))["metrics"] == []
    names = [
        m["name"] for m in get(server, "/api/v1/metrics", server.headers(target, "read"))["metrics"]
    ]
    assert names == ["backfill"]


# -- a body cannot choose the tenant ------------------------------------------------------------


def _point(**extra: Any) -> dict[str, Any]:
    return {"name": "smuggled", "timestamp": now_ms(), "value": 1.0, **extra}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(
            lambda victim: {"metrics": [_point()], "tenant_id": victim},
            "invalid_body",
            id="top-level-tenant_id",
        ),
        pytest.param(
            lambda victim: {"metrics": [_point()], "tenant": victim},
            "invalid_body",
            id="top-level-tenant",
        ),
        pytest.param(
            lambda victim: {"metrics": [_point(tenant_id=victim)]},
            "all_points_rejected",
            id="per-point-tenant_id",
        ),
        pytest.param(
            lambda victim: {"metrics": [_point(tenantId=victim)]},
            "all_points_rejected",
            id="per-point-tenantId",
        ),
    ],
)
def test_a_body_naming_a_tenant_is_rejected_and_writes_nothing(
    server: InProcessApp, body: Any, code: str
) -> None:
    writer, victim = new_tenant("writer"), new_tenant("victim")
    resp = server.client.post(
        "/api/v1/write",
        headers=server.headers(writer, "write"),
        json=body(victim),
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == code
    if code == "all_points_rejected":
        assert [e["error"]["code"] for e in resp.json()["errors"]] == ["invalid_point"]
    for tenant in (writer, victim):
        assert get(server, "/api/v1/metrics", server.headers(tenant, "read"))["metrics"] == []


@pytest.mark.parametrize("header", ["X-Tenant-Id", "X-Scope-OrgID", "Tenant"])
def test_tenant_headers_are_ignored(server: InProcessApp, header: str) -> None:
    writer, victim = new_tenant("writer"), new_tenant("victim")
    resp = server.client.post(
        "/api/v1/write",
        headers={**server.headers(writer, "write"), header: victim},
        json={"metrics": [_point()]},
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    assert get(server, "/api/v1/metrics", server.headers(victim, "read"))["metrics"] == []
    mine = get(server, "/api/v1/metrics", server.headers(writer, "read"))["metrics"]
    assert [m["name"] for m in mine] == ["smuggled"]


# -- admin operations stay inside their tenant --------------------------------------------------


@pytest.fixture
def twins(server: InProcessApp) -> tuple[TenantData, TenantData]:
    """Two fresh tenants holding identical points (recent and two days old)."""
    base = (now_ms() - 30 * MINUTE_MS) // MINUTE_MS * MINUTE_MS
    series = [
        Series("twin_metric", {"region": "eu"}, 1.0, 1.0),
        Series("twin_other", {"region": "us"}, 2.0, 1.0),
    ]
    c = build(new_tenant("twin-c"), base, series, series)
    d = build(new_tenant("twin-d"), base, series, series)
    write(server, c.tenant, c.points)
    write(server, d.tenant, d.points)
    return c, d


def metrics_of(proc: InProcessApp, tenant: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = get(proc, "/api/v1/metrics", proc.headers(tenant, "read"))[
        "metrics"
    ]
    return out


def test_deleting_a_metric_affects_only_the_own_tenant(
    server: InProcessApp, twins: tuple[TenantData, TenantData]
) -> None:
    c, d = twins
    resp = server.client.delete(
        "/api/v1/admin/metrics/twin_metric",
        headers=server.headers(c.tenant, "admin"),
        params={"before": now_ms() + MINUTE_MS},
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    kept = TenantData(c.tenant, [p for p in c.points if p.name != "twin_metric"])
    assert metrics_of(server, c.tenant) == kept.metrics_view()
    assert metrics_of(server, d.tenant) == d.metrics_view()


def test_retention_affects_only_the_own_tenant(
    server: InProcessApp, twins: tuple[TenantData, TenantData]
) -> None:
    c, d = twins
    resp = server.client.post(
        "/api/v1/admin/retention",
        headers=server.headers(c.tenant, "admin"),
        json={"days": 1},
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    cutoff = now_ms() - DAY_MS
    kept = TenantData(c.tenant, [p for p in c.points if p.timestamp >= cutoff])
    assert len(kept.points) < len(c.points)
    assert metrics_of(server, c.tenant) == kept.metrics_view()
    assert metrics_of(server, d.tenant) == d.metrics_view()
    policies = get(server, "/api/v1/admin/retention", server.headers(d.tenant, "admin"))
    assert policies == {"tenantId": d.tenant, "policies": []}


def test_an_admin_deleting_for_a_named_tenant_spares_its_own(
    server: InProcessApp, twins: tuple[TenantData, TenantData]
) -> None:
    c, d = twins
    resp = server.client.delete(
        "/api/v1/admin/metrics/twin_other",
        headers=server.headers(c.tenant, "admin"),
        params={"before": now_ms() + MINUTE_MS, "tenant": d.tenant},
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["tenantId"] == d.tenant
    kept = TenantData(d.tenant, [p for p in d.points if p.name != "twin_other"])
    assert metrics_of(server, d.tenant) == kept.metrics_view()
    assert metrics_of(server, c.tenant) == c.metrics_view()
