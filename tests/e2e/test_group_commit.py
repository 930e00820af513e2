"""Group commit over real HTTP: an insert waits for write requests that are arriving (admitted,
body still on its way) and not for the clock. Two writes, one held mid-body, share one storage
insert; a lone write does not wait for the delay; a client that leaves mid-body holds nobody up.
Each write endpoint announces its requests (`luminate_write_requests_arriving`)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.selfmetrics import sample, scrape
from tests.e2e.server import LuminateProcess
from tests.support.points import tagged_body

# Far longer than any wait here: a write answered well within it did not wait it out.
MAX_DELAY_S = 120
WAIT_S = 30.0
ARRIVING = "luminate_write_requests_arriving"
INSERTS = "luminate_write_batch_size_count"


@pytest.fixture(scope="module")
def proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    base = tmp_path_factory.mktemp("group-commit")
    server = LuminateProcess.in_dir(
        base,
        LUMINATE_WRITE_BATCH_MAX_DELAY_MS=str(MAX_DELAY_S * 1000),
        LUMINATE_HTTP_BODY_TIMEOUT_SECONDS=str(WAIT_S),
    ).start()
    yield server
    server.kill()


def body(tag: str, n: int = 20) -> bytes:
    return tagged_body("gc", tag, n)


def wait_for_gauge(proc: LuminateProcess, value: float) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if sample(scrape(proc), ARRIVING) == value:
            return
        time.sleep(0.05)
    raise AssertionError(f"{ARRIVING} never became {value}: {sample(scrape(proc), ARRIVING)}")


def start_partial(
    proc: LuminateProcess, path: str, headers: dict[str, str], raw: bytes
) -> socket.socket:
    """Sends the head and the first half of the body, and leaves the rest for later."""
    sock = socket.create_connection(("127.0.0.1", proc.port), timeout=WAIT_S)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(raw)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode() + raw[: len(raw) // 2])
    return sock


def finish(sock: socket.socket, raw: bytes) -> int:
    """Sends the rest of the body; the answer's status."""
    sock.sendall(raw[len(raw) // 2 :])
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, "connection closed without an answer"
        answer += chunk
    return int(answer.split(b" ")[1])


def post_in_background(proc: LuminateProcess, tenant: str, raw: bytes) -> Future[httpx.Response]:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(
        httpx.post,
        f"{proc.url}/api/v1/write",
        content=raw,
        headers=proc.headers(tenant),
        timeout=WAIT_S,
    )
    pool.shutdown(wait=False)
    return future


def test_a_write_waits_for_one_that_is_arriving_and_both_share_one_insert(
    proc: LuminateProcess,
) -> None:
    tenant = f"gc-{uuid.uuid4().hex[:8]}"
    held = body("held")
    inserts = sample(scrape(proc), INSERTS)
    with start_partial(proc, "/api/v1/write", proc.headers(tenant), held) as sock:
        wait_for_gauge(proc, 1)
        first = post_in_background(proc, tenant, body("first"))
        # The first write is decoded and submitted at once; its insert waits for the held one.
        time.sleep(1.0)
        assert not first.done(), "the write left without the one still arriving"
        assert sample(scrape(proc), INSERTS) == inserts
        assert finish(sock, held) == 200
    assert first.result(WAIT_S).status_code == 200
    assert sample(scrape(proc), INSERTS) == inserts + 1
    wait_for_gauge(proc, 0)


def test_a_lone_write_does_not_wait_for_the_delay(proc: LuminateProcess) -> None:
    tenant = f"gc-{uuid.uuid4().hex[:8]}"
    for tag in ("a", "b"):
        resp = httpx.post(
            f"{proc.url}/api/v1/write",
            content=body(tag),
            headers=proc.headers(tenant),
            timeout=WAIT_S,
        )
        assert resp.status_code == 200, resp.text


def test_a_client_that_leaves_mid_body_does_not_hold_the_insert(proc: LuminateProcess) -> None:
    tenant = f"gc-{uuid.uuid4().hex[:8]}"
    sock = start_partial(proc, "/api/v1/write", proc.headers(tenant), body("gone"))
    wait_for_gauge(proc, 1)
    first = post_in_background(proc, tenant, body("stays"))
    time.sleep(0.5)
    sock.close()
    assert first.result(WAIT_S).status_code == 200
    wait_for_gauge(proc, 0)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/write", {"Content-Type": "application/json"}),
        ("/api/v1/push", {"Content-Encoding": "snappy"}),
        ("/v1/metrics", {"Content-Type": "application/x-protobuf"}),
    ],
    ids=["json", "remote_write", "otlp"],
)
def test_every_write_endpoint_announces_its_requests(
    proc: LuminateProcess, path: str, headers: dict[str, str]
) -> None:
    tenant = f"gc-{uuid.uuid4().hex[:8]}"
    sock = start_partial(proc, path, {**proc.headers(tenant), **headers}, b"x" * 2000)
    try:
        wait_for_gauge(proc, 1)
    finally:
        sock.close()
    wait_for_gauge(proc, 0)
