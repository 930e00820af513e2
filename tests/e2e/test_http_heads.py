"""Heads of requests and responses on a server with default settings: the security headers on
every response, no CORS headers when no origin is configured, and the request-head limit (a JSON
431 at one byte past it and far past it, where the HTTP parser itself cuts the head off)."""

from __future__ import annotations

import json
import select
import socket
import uuid
from typing import Any

import httpx

from tests.e2e.hardening import (
    ORIGIN,
    SECURITY_HEADERS,
    TIMEOUT_S,
    assert_error,
    cors_headers,
    get_metrics,
    preflight,
)
from tests.e2e.server import LuminateProcess

HEAD_LIMIT = 16 * 1024  # the default LUMINATE_HTTP_MAX_HEADER_BYTES


# -- security headers ---------------------------------------------------------------------------


def _requests(server: LuminateProcess) -> list[tuple[str, httpx.Response]]:
    token = server.token(f"hard-{uuid.uuid4().hex[:12]}", "read")
    auth = {"Authorization": f"Bearer {token}"}
    url = server.url
    return [
        ("api-200", httpx.get(f"{url}/api/v1/metrics", headers=auth, timeout=TIMEOUT_S)),
        ("api-401", httpx.get(f"{url}/api/v1/metrics", timeout=TIMEOUT_S)),
        ("api-400", httpx.post(f"{url}/api/v1/query", headers=auth, content=b"{", timeout=30)),
        ("api-404", httpx.get(f"{url}/api/v1/nothing", timeout=TIMEOUT_S)),
        ("api-405", httpx.put(f"{url}/api/v1/write", timeout=TIMEOUT_S)),
        ("healthz", httpx.get(f"{url}/healthz", timeout=TIMEOUT_S)),
        ("readyz", httpx.get(f"{url}/readyz", timeout=TIMEOUT_S)),
        ("metrics", httpx.get(f"{server.internal_url}/metrics", timeout=TIMEOUT_S)),
        ("root-redirect", httpx.get(f"{url}/", timeout=TIMEOUT_S)),
        ("431", httpx.get(f"{url}/healthz", headers={"X-Big": "a" * 20_000}, timeout=30)),
    ]


def test_every_response_carries_the_security_headers(server: LuminateProcess) -> None:
    for name, resp in _requests(server):
        for header, value in SECURITY_HEADERS.items():
            assert resp.headers.get(header) == value, (name, header, resp.headers)
        api = name.startswith("api")
        assert (resp.headers.get("cache-control") == "no-store") is api, (name, resp.headers)


# -- no CORS without configured origins ------------------------------------------------------------


def test_cors_is_off_by_default(server: LuminateProcess) -> None:
    resp = preflight(server, ORIGIN)
    assert_error(resp, 405, "method_not_allowed")
    assert cors_headers(resp) == {}
    token = server.token(f"hard-{uuid.uuid4().hex[:12]}", "read")
    resp = get_metrics(server, token, Origin=ORIGIN)
    assert resp.status_code == 200
    assert cors_headers(resp) == {}


# -- the request-head limit ---------------------------------------------------------------------


def head_of(server: LuminateProcess, size: int) -> bytes:
    """A complete GET /healthz head of exactly `size` bytes."""
    start = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n"
    fixed = len(start) + len("X-Fill: \r\n\r\n")
    return f"{start}X-Fill: {'a' * (size - fixed)}\r\n\r\n".encode()


def exchange(port: int, data: bytes, timeout_s: float = 20.0) -> tuple[int, dict[str, Any] | None]:
    """Send `data`, read until the server closes: the status (0 when the server reset the
    connection before an answer could be read) and the JSON body, if any."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        try:
            sock.sendall(data)
            while chunk := sock.recv(65536):
                received += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
    if not received:
        return 0, None
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    is_json = b"application/json" in head.lower()
    return status, json.loads(body) if is_json else None


def test_a_head_at_the_limit_passes_and_one_byte_more_gets_431(server: LuminateProcess) -> None:
    assert len(head_of(server, HEAD_LIMIT)) == HEAD_LIMIT
    assert exchange(server.port, head_of(server, HEAD_LIMIT))[0] == 200
    status, body = exchange(server.port, head_of(server, HEAD_LIMIT + 1))
    assert status == 431
    assert body is not None
    assert body["error"]["code"] == "headers_too_large"
    assert "LUMINATE_HTTP_MAX_HEADER_BYTES" in body["error"]["message"]
    assert body["error"]["details"] == {
        "limit_bytes": HEAD_LIMIT,
        "setting": "LUMINATE_HTTP_MAX_HEADER_BYTES",
        "size_bytes": HEAD_LIMIT + 1,
    }


def test_oversized_heads_get_a_json_431_even_where_the_parser_cuts_them_off(
    server: LuminateProcess,
) -> None:
    for size in (3 * HEAD_LIMIT, 1024 * 1024):
        for _ in range(5):
            status, body = exchange(server.port, head_of(server, size))
            assert status == 431, size
            assert body is not None
            assert body["error"]["code"] == "headers_too_large"
            assert "LUMINATE_HTTP_MAX_HEADER_BYTES" in body["error"]["message"]
    assert httpx.get(f"{server.url}/healthz", timeout=TIMEOUT_S).status_code == 200


def test_a_gigantic_unfinished_head_is_cut_off_not_buffered(server: LuminateProcess) -> None:
    """A 1 MB head that never ends: the server answers and closes without waiting for the end
    (a server that buffered heads of any size would wait here forever)."""
    line = b"X-Fill: " + b"a" * 1000 + b"\r\n"
    sent = 0
    closed = False
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            while sent < 1024 * 1024:
                sock.sendall(line * 16)
                sent += len(line) * 16
                if select.select([sock], [], [], 0.01)[0]:
                    break
            answer = sock.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            answer = b""
    assert not closed and answer.startswith(b"HTTP/1.1 431")
    assert b"headers_too_large" in answer
    assert sent < 1024 * 1024, "the server read a whole megabyte of head"
    assert httpx.get(f"{server.url}/healthz", timeout=TIMEOUT_S).status_code == 200
