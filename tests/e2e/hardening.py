"""Token claims, requests and expected response headers shared by the tests of the hardened API
(JWKS keys, CORS, security headers): a claims set, a metrics read with a bearer token, a CORS
preflight, the error-shape check and the security headers every response must carry."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.server import LuminateProcess

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
        "tenant_id": tenant or f"hard-{uuid.uuid4().hex[:12]}",
        "scopes": ["read", "write"],
        "exp": int(time.time()) + 600,
    }
    c.update(over)
    return c


def get_metrics(proc: LuminateProcess, token: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{proc.url}/api/v1/metrics",
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=TIMEOUT_S,
    )


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def start(base: Path, **env: str) -> LuminateProcess:
    return LuminateProcess(data_dir=base / "data", log_path=base / "server.log", env_extra=env)


def preflight(
    server: LuminateProcess,
    origin: str,
    method: str = "POST",
    headers: str = "authorization, content-type",
    path: str = "/api/v1/write",
) -> httpx.Response:
    return httpx.options(
        server.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
        timeout=TIMEOUT_S,
    )


def cors_headers(resp: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.startswith("access-control-")}
