"""Real answers of a served process against the OpenAPI document: writes (all accepted, some
rejected, all rejected, malformed), every kind of query, discovery, admin, the unauthenticated
endpoints and the error answers (authentication, scopes, unknown paths and methods, body and
header limits, bad parameters) each validate against the schema documented for their status."""

from __future__ import annotations

from typing import Any

import pytest

from luminate.auth.tokens import create_token
from luminate.http.listeners import INTERNAL_ONLY
from tests.app.bodies import metrics_body
from tests.app.conformance import QUERY, RETENTION, WRITE, Contract, request, served_document
from tests.app.inprocess import InProcessApp
from tests.support.clock import now_ms
from tests.support.points import dumps, point
from tests.support.tenants import new_tenant
from tests.support.tokens import TEST_SECRET


@pytest.fixture(scope="module")
def contract(server: InProcessApp) -> Contract:
    return Contract(served_document(server))


@pytest.fixture(scope="module")
def loaded(server: InProcessApp) -> str:
    """A tenant with two series of a counter (one reset) and a gauge."""
    tenant = new_tenant()
    t = now_ms() - 10 * 60_000
    points = [
        point(name="requests", timestamp=t + i * 30_000, value=v, dimensions={"host": h})
        for h in ("a", "b")
        for i, v in enumerate([1.0, 5.0, 9.0, 2.0, 6.0])
    ]
    points += [point(name="latency", timestamp=t + i * 1000, value=float(i)) for i in range(10)]
    resp = request(server, "POST", WRITE, tenant, content=metrics_body(*map(dumps, points)))
    assert resp.status_code == 200, resp.text
    return tenant


def test_write_answers_match_the_document(server: InProcessApp, contract: Contract) -> None:
    tenant = new_tenant()
    good = dumps(point())
    bad = dumps(point(name="1bad"))
    body = contract.check(request(server, "POST", WRITE, tenant, content=metrics_body(good)), WRITE)
    assert body == {"accepted": 1, "rejected": 0, "errors": []}
    resp = request(server, "POST", WRITE, tenant, content=metrics_body(good, bad))
    assert resp.status_code == 207
    assert contract.check(resp, WRITE)["errors"][0]["error"]["code"] == "invalid_metric_name"
    resp = request(server, "POST", WRITE, tenant, content=metrics_body(bad, bad))
    assert resp.status_code == 400
    assert contract.check(resp, WRITE)["error"]["code"] == "all_points_rejected"
    resp = request(server, "POST", WRITE, tenant, content=b'{"metrics": [')
    assert resp.status_code == 400
    assert contract.check(resp, WRITE) == {"error": resp.json()["error"]}


QUERIES: dict[str, dict[str, Any]] = {
    "range": {"queryType": "range", "metricName": "latency"},
    "range-with-filter": {
        "queryType": "range",
        "metricName": "requests",
        "filters": {"host": "a"},
        "limit": 3,
    },
    "aggregate": {"queryType": "aggregate", "metricName": "latency", "aggregation": "p95"},
    "aggregate-grouped": {
        "queryType": "aggregate",
        "metricName": "requests",
        "aggregation": "sum",
        "groupBy": ["host", "zone"],
    },
    "aggregate-buckets": {
        "queryType": "aggregate",
        "metricName": "requests",
        "aggregation": "integral",
        "interval": "1m",
    },
    "rate": {"queryType": "rate", "metricName": "requests", "interval": "1m"},
    "rate-grouped": {
        "queryType": "rate",
        "metricName": "requests",
        "interval": "2m",
        "groupBy": ["host"],
    },
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_query_answers_match_the_document(
    server: InProcessApp, contract: Contract, loaded: str, name: str
) -> None:
    query = {**QUERIES[name], "timeRange": {"relative": "1h"}}
    resp = request(server, "POST", QUERY, loaded, content=dumps(query))
    assert resp.status_code == 200, resp.text
    body = contract.check(resp, QUERY)
    assert body["results"], "an empty result would prove nothing about the row schema"


DISCOVERY = [
    ("/api/v1/metrics", "/api/v1/metrics", {}),
    ("/api/v1/metrics/{name}/dimensions", "/api/v1/metrics/requests/dimensions", {}),
    (
        "/api/v1/metrics/{name}/dimensions/{key}/values",
        "/api/v1/metrics/requests/dimensions/host/values",
        {"limit": 1},
    ),
    ("/api/v1/cardinality", "/api/v1/cardinality", {"start": 0}),
]


@pytest.mark.parametrize(("template", "path", "params"), DISCOVERY, ids=[d[0] for d in DISCOVERY])
def test_discovery_answers_match_the_document(
    server: InProcessApp,
    contract: Contract,
    loaded: str,
    template: str,
    path: str,
    params: dict[str, Any],
) -> None:
    resp = request(server, "GET", path, loaded, "read", params=params)
    assert resp.status_code == 200, resp.text
    body = contract.check(resp, template)
    assert any(isinstance(v, list) and v for v in body.values()), body


def test_admin_answers_match_the_document(server: InProcessApp, contract: Contract) -> None:
    tenant = new_tenant()
    for retention in ({"days": 30}, {"days": 7, "metricName": "probe"}):
        resp = request(server, "POST", RETENTION, tenant, "admin", content=dumps(retention))
        assert resp.status_code == 200, resp.text
        contract.check(resp, RETENTION)
    resp = request(server, "GET", RETENTION, tenant, "admin")
    assert len(contract.check(resp, RETENTION)["policies"]) == 2
    resp = request(
        server, "DELETE", "/api/v1/admin/metrics/probe", tenant, "admin", params={"before": 1}
    )
    assert resp.status_code == 200, resp.text
    contract.check(resp, "/api/v1/admin/metrics/{name}")
    other = request(server, "GET", RETENTION, tenant, "admin", params={"tenant": new_tenant()})
    assert contract.check(other, RETENTION)["policies"] == []


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/startupz", "/api/v1/health", "/metrics", "/openapi.json"]
)
def test_unauthenticated_answers_match_the_document(
    server: InProcessApp, contract: Contract, path: str
) -> None:
    if path in INTERNAL_ONLY:
        # Served on the internal listener; the public one answers the documented 404.
        public = request(server, "GET", path)
        assert public.status_code == 404, public.text
        contract.check(public, path)
        resp = server.internal.get(path)
    else:
        resp = request(server, "GET", path)
    assert resp.status_code == 200, resp.text
    contract.check(resp, path)


def expired_token() -> dict[str, str]:
    token = create_token(TEST_SECRET, tenant="t", scopes=["read"], ttl_s=-3600)
    return {"Authorization": f"Bearer {token}"}


ERRORS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (id, method, path template, request arguments, status, code)
    ("no-token", "GET", "/api/v1/metrics", {}, 401, "missing_token"),
    (
        "garbage-token",
        "POST",
        QUERY,
        {"headers": {"Authorization": "Bearer not.a.jwt"}},
        401,
        "invalid_token",
    ),
    ("expired-token", "GET", "/api/v1/cardinality", {"expired": True}, 401, "token_expired"),
    ("write-with-read-scope", "POST", WRITE, {"scopes": "read"}, 403, "insufficient_scope"),
    (
        "admin-with-write-scope",
        "GET",
        RETENTION,
        {"scopes": "read,write"},
        403,
        "insufficient_scope",
    ),
    (
        "other-tenant-without-admin",
        "GET",
        "/api/v1/metrics",
        {"scopes": "read", "params": {"tenant": "someone-else"}},
        403,
        "insufficient_scope",
    ),
    ("unknown-path", "GET", "/api/v1/nothing-here", {}, 404, "not_found"),
    (
        "slash-in-a-path-parameter",
        "GET",
        "/api/v1/metrics/{name}/dimensions",
        {"path": "/api/v1/metrics/a%2Fb/dimensions"},
        404,
        "not_found",
    ),
    ("wrong-method", "PUT", WRITE, {}, 405, "method_not_allowed"),
    (
        "query-body-too-large",
        "POST",
        QUERY,
        {"content": b"{" + b" " * (1 << 20) + b"}"},
        413,
        "body_too_large",
    ),
    (
        "unsupported-encoding",
        "POST",
        WRITE,
        {"content": b"{}", "headers": {"Content-Encoding": "br"}},
        415,
        "unsupported_content_encoding",
    ),
    (
        "headers-too-large",
        "GET",
        "/api/v1/metrics",
        {"headers": {"X-Padding": "p" * 20_000}},
        431,
        "headers_too_large",
    ),
    ("bad-limit", "GET", "/api/v1/metrics", {"params": {"limit": "0"}}, 400, "invalid_limit"),
    (
        "bad-time",
        "DELETE",
        "/api/v1/admin/metrics/{name}",
        {"path": "/api/v1/admin/metrics/probe", "params": {"before": "yesterday"}},
        400,
        "invalid_time",
    ),
]


@pytest.mark.parametrize(
    ("method", "template", "kwargs", "status", "code"),
    [pytest.param(*e[1:], id=e[0]) for e in ERRORS],
)
def test_error_answers_match_the_document(
    server: InProcessApp,
    contract: Contract,
    method: str,
    template: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    kwargs = dict(kwargs)
    path = kwargs.pop("path", template)
    scopes = kwargs.pop("scopes", "read,write,admin")
    tenant = None if status == 401 else new_tenant()
    if kwargs.pop("expired", False):
        kwargs["headers"] = expired_token()
    resp = request(server, method, path, tenant, scopes, **kwargs)
    assert resp.status_code == status, resp.text
    # A method the path does not serve is checked against the path's documented operation.
    documented = "post" if status == 405 else method.lower()
    if template not in contract.document["paths"]:
        template = "/healthz"  # an unknown path: any operation's 404 is the shared one
        documented = "get"
    body = contract.check(resp, template, documented)
    assert body["error"]["code"] == code
