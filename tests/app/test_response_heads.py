"""Heads of responses on an app with default settings: the security headers on every response
(errors, probes and a refused request head included), and no CORS headers when no origin is
configured."""

from __future__ import annotations

import httpx

from tests.app.inprocess import InProcessApp
from tests.support.errors import assert_error
from tests.support.hardening import (
    ORIGIN,
    SECURITY_HEADERS,
    TIMEOUT_S,
    cors_headers,
    get_metrics,
    preflight,
)
from tests.support.tenants import new_tenant

# -- security headers ---------------------------------------------------------------------------


def _requests(server: InProcessApp) -> list[tuple[str, httpx.Response]]:
    token = server.token(new_tenant("hard"), "read")
    auth = {"Authorization": f"Bearer {token}"}
    http = server.client
    return [
        ("api-200", http.get("/api/v1/metrics", headers=auth, timeout=TIMEOUT_S)),
        ("api-401", http.get("/api/v1/metrics", timeout=TIMEOUT_S)),
        ("api-400", http.post("/api/v1/query", headers=auth, content=b"{", timeout=30)),
        ("api-404", http.get("/api/v1/nothing", timeout=TIMEOUT_S)),
        ("api-405", http.put("/api/v1/write", timeout=TIMEOUT_S)),
        ("healthz", http.get("/healthz", timeout=TIMEOUT_S)),
        ("readyz", http.get("/readyz", timeout=TIMEOUT_S)),
        ("metrics", server.internal.get("/metrics", timeout=TIMEOUT_S)),
        ("root-redirect", http.get("/", timeout=TIMEOUT_S)),
        ("431", http.get("/healthz", headers={"X-Big": "a" * 20_000}, timeout=30)),
    ]


def test_every_response_carries_the_security_headers(server: InProcessApp) -> None:
    for name, resp in _requests(server):
        for header, value in SECURITY_HEADERS.items():
            assert resp.headers.get(header) == value, (name, header, resp.headers)
        api = name.startswith("api")
        assert (resp.headers.get("cache-control") == "no-store") is api, (name, resp.headers)


# -- no CORS without configured origins ------------------------------------------------------------


def test_cors_is_off_by_default(server: InProcessApp) -> None:
    resp = preflight(server, ORIGIN)
    assert_error(resp, 405, "method_not_allowed")
    assert cors_headers(resp) == {}
    token = server.token(new_tenant("hard"), "read")
    resp = get_metrics(server, token, Origin=ORIGIN)
    assert resp.status_code == 200
    assert cors_headers(resp) == {}
