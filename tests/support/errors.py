"""The one error shape every refusal has, checked the same way in every tier."""

from __future__ import annotations

from typing import Any

import httpx

# A write none of whose points was accepted answers the write shape with the error beside it.
_ALL_REJECTED = {"accepted", "rejected", "errors", "error"}


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """`resp` is `status` with exactly `{"error": {"code", "message", "details"}}` and `code`, a
    non-empty message, and for a 401 the Bearer challenge. Returns the body."""
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) == (_ALL_REJECTED if code == "all_points_rejected" else {"error"}), body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, body
    assert error["code"] == code, body
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    if status == 401:
        assert resp.headers.get("www-authenticate") == "Bearer"
    return body
