"""Token claims, requests and expected response headers shared by the tests of the hardened API
(JWKS keys, CORS, security headers): a claims set, a metrics read with a bearer token, a CORS
preflight and the security headers every response must carry."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.clock import now_s
from tests.support.served import Served
from tests.support.tenants import new_tenant

TIMEOUT_S = 30.0
ORIGIN = "https://app.example"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-resource-policy": "same-origin",
}


def claims(tenant: str | None = None, **over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "tenant_id": tenant or new_tenant("hard"),
        "scopes": ["read", "write"],
        "exp": now_s() + 600,
    }
    c.update(over)
    return c


def get_metrics(proc: Served, token: str, **headers: str) -> httpx.Response:
    return proc.client.get(
        "/api/v1/metrics",
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=TIMEOUT_S,
    )


def preflight(
    server: Served,
    origin: str,
    method: str = "POST",
    headers: str = "authorization, content-type",
    path: str = "/api/v1/write",
) -> httpx.Response:
    return server.client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
        timeout=TIMEOUT_S,
    )


def cors_headers(resp: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.startswith("access-control-")}
