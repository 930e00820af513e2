"""Errors become responses in one place; these are the mappings no HTTP request to a healthy
embedded server can reach (the end-to-end suite covers the rest)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from starlette.requests import Request

from luminate.app import _storage_error, _unexpected
from luminate.storage.errors import (
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
        (StorageTimeout("Timeout exceeded"), 504, "query_timeout"),
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
