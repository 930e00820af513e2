"""Connections a production HTTP server does not keep: silent and slowloris connections get a
JSON 408 after the head deadline and are closed, a stalled body gets 408 (and holds no query
slot meanwhile), connections past the cap get 503, a client that leaves mid-upload is counted as
the client's (499, no traceback), and heads far past the limit always get a JSON 431."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.selfmetrics import sample, scrape
from tests.e2e.server import LuminateProcess

HEAD_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 100
# Long enough for any answer here; a connection still open after it was never closed.
WAIT_S = 15.0


@pytest.fixture(scope="module")
def proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    base = tmp_path_factory.mktemp("connections")
    server = LuminateProcess(
        data_dir=base / "data",
        log_path=base / "server.log",
        env_extra={
            "LUMINATE_HTTP_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT_S),
            "LUMINATE_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S),
            "LUMINATE_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
            "LUMINATE_RATELIMIT_CONCURRENT_QUERIES": "1",
        },
    ).start()
    yield server
    server.kill()


def connect(proc: LuminateProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proc.port), timeout=WAIT_S)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or WAIT_S passes)."""
    received = b""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"connection still open after {WAIT_S} s; got {received[:200]!r}")


def parse(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), answer[:300]
    return int(head.split(b" ")[1]), json.loads(body)


def assert_answer(answer: bytes, status: int, code: str) -> dict[str, Any]:
    got, body = parse(answer)
    assert (got, body["error"]["code"]) == (status, code), body
    error: dict[str, Any] = body["error"]
    return error


def test_a_silent_connection_gets_408_and_is_closed(proc: LuminateProcess) -> None:
    started = time.monotonic()
    with connect(proc) as sock:
        error = assert_answer(read_until_closed(sock), 408, "request_timeout")
    assert "LUMINATE_HTTP_HEAD_TIMEOUT_SECONDS" in error["message"]
    assert time.monotonic() - started >= HEAD_TIMEOUT_S * 0.9


def test_a_partial_head_gets_408_and_is_closed(proc: LuminateProcess) -> None:
    with connect(proc) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert_answer(read_until_closed(sock), 408, "request_timeout")


def test_a_keep_alive_connection_gets_a_fresh_head_deadline_per_request(
    proc: LuminateProcess,
) -> None:
    """Requests spaced under the deadline keep one connection working; the deadline runs per
    head, not per connection."""
    with connect(proc) as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"alive"}'):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            time.sleep(HEAD_TIMEOUT_S / 2)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        assert_answer(read_until_closed(sock), 408, "request_timeout")


def test_slowloris_connections_are_all_closed_and_the_server_keeps_answering(
    proc: LuminateProcess,
) -> None:
    socks = [connect(proc) for _ in range(200)]
    try:
        for i, sock in enumerate(socks):
            # Not even a whole request line: the head never completes.
            sock.sendall(f"GET /healthz?n={i} HTTP/1.1\r\nHost: x\r\nX-A: ".encode())
        statuses: dict[int, int] = {}
        for sock in socks:
            status, body = parse(read_until_closed(sock))
            assert body["error"]["code"] in ("request_timeout", "too_many_connections")
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        for sock in socks:
            sock.close()
    # The cap refused what it could not hold; the deadline closed the rest.
    assert set(statuses) == {408, 503}, statuses
    assert statuses[503] >= 200 - MAX_CONNECTIONS
    wait_until_accepting(proc)


def test_connections_over_the_cap_get_503_at_once(proc: LuminateProcess) -> None:
    socks = [connect(proc) for _ in range(MAX_CONNECTIONS + 5)]
    try:
        answers = []
        for sock in socks[MAX_CONNECTIONS:]:
            sock.settimeout(HEAD_TIMEOUT_S / 2)  # well before the head deadline
            answers.append(sock.recv(65536))
        for answer in answers:
            head, _, _ = answer.partition(b"\r\n\r\n")
            assert b"retry-after: 1" in head.lower()
            error = assert_answer(answer, 503, "too_many_connections")
            assert "LUMINATE_HTTP_MAX_CONNECTIONS" in error["message"]
    finally:
        for sock in socks:
            sock.close()
    wait_until_accepting(proc)


def wait_until_accepting(proc: LuminateProcess) -> None:
    """Until the server has seen the closed connections go (the next test needs a free slot)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if httpx.get(f"{proc.url}/healthz", timeout=10).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the server still refuses connections after the test closed its own")


def test_a_stalled_body_gets_408_and_the_connection_is_closed(proc: LuminateProcess) -> None:
    token = proc.token(f"conn-{uuid.uuid4().hex[:10]}")
    with connect(proc) as sock:
        sock.sendall(
            b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            + f"Authorization: Bearer {token}\r\n\r\n".encode()
            + b'{"metrics": ['
        )
        answer = read_until_closed(sock)
    error = assert_answer(answer, 408, "request_timeout")
    assert "LUMINATE_HTTP_BODY_TIMEOUT_SECONDS" in error["message"]
    assert error["details"] == {"received_bytes": 13}


def test_a_stalled_query_body_gives_its_query_slot_back_at_the_body_deadline(
    proc: LuminateProcess,
) -> None:
    """The tenant may run one query at a time; a query whose body never arrives holds that slot
    only until the body deadline, then the next query runs."""
    tenant = f"conn-{uuid.uuid4().hex[:10]}"
    token = proc.token(tenant, "read")
    query = {"queryType": "range", "metricName": "m", "timeRange": {"relative": "1h"}}
    auth = {"Authorization": f"Bearer {token}"}
    with connect(proc) as sock:
        sock.sendall(
            b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
            + f"Authorization: Bearer {token}\r\n\r\n".encode()
            + b'{"queryType": '
        )
        time.sleep(0.2)  # the stalled request holds the slot now
        resp = httpx.post(f"{proc.url}/api/v1/query", headers=auth, json=query, timeout=10)
        assert resp.status_code == 429, resp.text
        assert resp.json()["error"]["code"] == "too_many_concurrent_queries"
        assert_answer(read_until_closed(sock), 408, "request_timeout")
    resp = httpx.post(f"{proc.url}/api/v1/query", headers=auth, json=query, timeout=10)
    assert resp.status_code == 200, resp.text


def test_a_client_that_leaves_mid_upload_is_counted_as_499_without_a_traceback(
    proc: LuminateProcess,
) -> None:
    before = scrape(proc)
    token = proc.token(f"conn-{uuid.uuid4().hex[:10]}")
    for _ in range(3):
        with connect(proc) as sock:
            sock.sendall(
                b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                + f"Authorization: Bearer {token}\r\n\r\n".encode()
                + b'{"metrics": [' * 10
            )
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = scrape(proc)
        name, labels = "luminate_http_requests_total", {"method": "POST", "route": "/api/v1/write"}
        if (
            sample(after, name, **labels, status="499")
            - sample(before, name, **labels, status="499")
            >= 3
        ):
            break
        time.sleep(0.1)
    assert (
        sample(after, name, **labels, status="499") - sample(before, name, **labels, status="499")
        == 3
    )
    assert sample(after, name, **labels, status="500") == sample(
        before, name, **labels, status="500"
    )
    log = Path(proc.log_path).read_text()
    assert "Traceback" not in log
    assert "client disconnected" in log


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(lambda: [("X-Big", "a" * (1024 * 1024))], id="1MiB-header"),
        pytest.param(lambda: [(f"X-H{i}", "v") for i in range(20_000)], id="20000-headers"),
        pytest.param(lambda: [("Authorization", "Bearer " + "t" * 130_000)], id="130KB-token"),
    ],
)
def test_huge_heads_always_get_a_json_431(proc: LuminateProcess, head: Any) -> None:
    lines = "".join(f"{k}: {v}\r\n" for k, v in head())
    data = f"GET /api/v1/metrics HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode()
    for _ in range(5):
        with connect(proc) as sock:
            sender = threading.Thread(target=_send_ignoring_reset, args=(sock, data))
            sender.start()
            answer = read_until_closed(sock)
            sender.join(WAIT_S)
        assert_answer(answer, 431, "headers_too_large")


def test_a_huge_url_always_gets_a_json_431(proc: LuminateProcess) -> None:
    data = f"GET /api/v1/metrics?x={'a' * (1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    for _ in range(5):
        with connect(proc) as sock:
            sender = threading.Thread(target=_send_ignoring_reset, args=(sock, data))
            sender.start()
            answer = read_until_closed(sock)
            sender.join(WAIT_S)
        assert_answer(answer, 431, "headers_too_large")


def test_a_malformed_request_line_gets_a_json_400(proc: LuminateProcess) -> None:
    with connect(proc) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1 extra words\r\nHost: x\r\n\r\n")
        error = assert_answer(read_until_closed(sock), 400, "malformed_request")
    assert "not a valid HTTP/1.1 request" in error["message"]


def _send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    # The server may stop reading once it has answered.
    with contextlib.suppress(OSError):
        sock.sendall(data)
