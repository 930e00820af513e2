from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable

import pytest
import zstandard
from starlette.requests import Request

from luminate.http.body import read_body
from luminate.model.errors import ErrorCode, LuminateError

LIMIT = 1024


def request(body: bytes, encoding: str | None = None, chunk: int = 100) -> Request:
    headers = [(b"content-type", b"application/json")]
    if encoding:
        headers.append((b"content-encoding", encoding.encode()))
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict[str, object]:
        part = parts.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def read(body: bytes, encoding: str | None = None) -> bytes:
    return asyncio.run(read_body(request(body, encoding), LIMIT))


def fails(body: bytes, encoding: str | None) -> LuminateError:
    with pytest.raises(LuminateError) as info:
        read(body, encoding)
    return info.value


@pytest.mark.parametrize("encoding", [None, "identity", "gzip", "zstd"])
def test_bodies_are_decoded(encoding: str | None) -> None:
    payload = b'{"metrics": []}' * 10
    encoders: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress,
        "zstd": zstandard.compress,
    }
    raw = encoders.get(encoding or "", bytes)(payload)
    assert read(raw, encoding) == payload


def test_limits_apply_before_and_after_decompression() -> None:
    exc = fails(b"x" * (LIMIT + 1), None)
    assert (exc.status, exc.code) == (413, ErrorCode.BODY_TOO_LARGE)
    bomb = gzip.compress(b"0" * (LIMIT * 500))
    assert len(bomb) < LIMIT
    exc = fails(bomb, "gzip")
    assert (exc.status, exc.code) == (413, ErrorCode.BODY_TOO_LARGE)
    exc = fails(zstandard.compress(b"0" * (LIMIT * 500)), "zstd")
    assert (exc.status, exc.code) == (413, ErrorCode.BODY_TOO_LARGE)


@pytest.mark.parametrize(
    ("raw", "encoding", "status", "code"),
    [
        (b"not gzip", "gzip", 400, ErrorCode.INVALID_COMPRESSED_BODY),
        (gzip.compress(b"x" * 100)[:-12], "gzip", 400, ErrorCode.INVALID_COMPRESSED_BODY),
        (b"not zstd", "zstd", 400, ErrorCode.INVALID_COMPRESSED_BODY),
        (b"{}", "br", 415, ErrorCode.UNSUPPORTED_CONTENT_ENCODING),
    ],
    ids=["gzip-garbage", "gzip-truncated", "zstd-garbage", "brotli"],
)
def test_bad_encodings(raw: bytes, encoding: str, status: int, code: ErrorCode) -> None:
    exc = fails(raw, encoding)
    assert (exc.status, exc.code) == (status, code)
