"""The request-head limit of a served process with default settings: a JSON 431 at one byte past
it and far past it, where uvicorn's own HTTP parser refuses the head before Luminate sees it.
(Response heads are checked in process: tests/app/test_response_heads.py.)"""

from __future__ import annotations

import json
import select
import socket
from typing import Any

import httpx

from tests.e2e.server import LuminateProcess

HEAD_LIMIT = 16 * 1024  # the default LUMINATE_HTTP_MAX_HEADER_BYTES
TIMEOUT_S = 30.0


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
