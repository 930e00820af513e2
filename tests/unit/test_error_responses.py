"""Errors become responses in one place; these are the mappings no HTTP request to a healthy
embedded server can reach (the end-to-end suite covers the rest)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from starlette.requests import Request

from luminate.http.errors import _storage_error, _unexpected
from luminate.storage.errors import (
    StorageBudgetExceeded,
    StorageError,
    StorageTimeout,
    StorageUnavailable,
    TenantScopeViolation,
)

REQUEST = Request({"type": "http", "method": "POST", "path": "/api/v1/write", "headers": []})


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (StorageUnavailable("insert failed after 3 attempts"), 503, "storage_unavailable"),
        (StorageTimeout("Timeout exceeded"), 422, "query_timeout"),
        (StorageBudgetExceeded("Code: 158. Limit for rows"), 422, "too_many_rows_scanned"),
        (StorageError("Code: 47. Unknown identifier"), 500, "internal_error"),
        (TenantScopeViolation("no tenant"), 500, "internal_error"),
    ],
)
def test_storage_errors_map_to_stable_codes(exc: Exception, status: int, code: str) -> None:
    response = asyncio.run(_storage_error(REQUEST, exc))
    body = msgspec.json.decode(response.body)
    assert (response.status_code, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]
    if status == 503:
        assert response.headers["retry-after"] == "1"
    if status == 500:
        assert "Code: 47" not in body["error"]["message"], "engine text stays in the logs"


def test_unexpected_errors_answer_500_without_details() -> None:
    response = asyncio.run(_unexpected(REQUEST, KeyError("secret internals")))
    body = msgspec.json.decode(response.body)
    assert response.status_code == 500
    assert body["error"]["code"] == "internal_error"
    assert "secret" not in body["error"]["message"]


def test_an_unexpected_exception_is_answered_with_the_request_id_and_security_headers() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route

    from luminate.http.middleware import RequestMiddleware
    from luminate.http.security import SecurityHeaders
    from luminate.observability.metrics import Metrics

    async def broken(request: Request) -> None:
        raise ZeroDivisionError("a bug")

    app = Starlette(
        routes=[Route("/api/v1/broken", broken)],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(RequestMiddleware, metrics=Metrics(backend="embedded")),
        ],
    )

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/api/v1/broken", headers={"X-Request-Id": "req-42"})

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "a bug" not in response.text
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
