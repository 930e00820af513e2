"""Graceful shutdown: on SIGTERM readiness turns 503 at once, the process keeps serving for the
configured delay, in-flight requests finish with 200, buffered writes are stored, exit code 0."""

from __future__ import annotations

import json
import math
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.e2e.server import LuminateProcess
from tests.support.clock import now_ms

StartServer = Callable[..., LuminateProcess]

METRIC = "shutdown_probe"
TENANT = "shutdown-tenant"
WAIT_S = 30.0


@dataclass
class SlowWrite:
    """A write whose body is sent in two parts: the second only once `release` is set, so the
    request is provably in flight (headers and half the body received) until then."""

    values: list[float]
    first_ms: int
    head_sent: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def body(self) -> bytes:
        metrics = [
            {
                "name": METRIC,
                "timestamp": self.first_ms + i,
                "value": value,
                "dimensions": {"host": f"h{i % 17}"},
            }
            for i, value in enumerate(self.values)
        ]
        return json.dumps({"metrics": metrics}).encode()

    def chunks(self) -> Iterator[bytes]:
        raw = self.body()
        half = len(raw) // 2
        yield raw[:half]
        self.head_sent.set()
        if not self.release.wait(WAIT_S):
            raise TimeoutError("slow write was never released")
        yield raw[half:]


@contextmanager
def slow_pool(writes: list[SlowWrite]) -> Iterator[ThreadPoolExecutor]:
    """A pool for slow writes that releases every one of them on the way out, so a failing
    assertion does not leave threads waiting on their release."""
    with ThreadPoolExecutor(max_workers=len(writes)) as pool:
        try:
            yield pool
        finally:
            for w in writes:
                w.release.set()


def slow_writes(count: int, points: int, start_value: int) -> list[SlowWrite]:
    base = now_ms() - 60_000
    out = []
    for n in range(count):
        first = start_value + n * points
        out.append(
            SlowWrite(
                values=[first + k + 0.5 for k in range(points)],
                first_ms=base + first,
            )
        )
    return out


def send_slow(proc: LuminateProcess, write: SlowWrite) -> httpx.Response:
    with httpx.Client(timeout=60) as client:
        return client.post(
            proc.url + "/api/v1/write",
            content=write.chunks(),
            headers=proc.headers(TENANT, "write"),
        )


def assert_accepted(response: httpx.Response, write: SlowWrite) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(write.values)


def start_slow(
    pool: ThreadPoolExecutor, proc: LuminateProcess, writes: list[SlowWrite]
) -> list[Future[httpx.Response]]:
    futures = [pool.submit(send_slow, proc, w) for w in writes]
    for w in writes:
        assert w.head_sent.wait(WAIT_S), "slow write never started sending"
    return futures


def write_now(proc: LuminateProcess, values: list[float]) -> httpx.Response:
    base = now_ms() - 30_000
    body = {
        "metrics": [
            {"name": METRIC, "timestamp": base + i, "value": v} for i, v in enumerate(values)
        ]
    }
    return httpx.post(
        proc.url + "/api/v1/write", json=body, headers=proc.headers(TENANT, "write"), timeout=30
    )


def wait_for_draining(proc: LuminateProcess) -> httpx.Response:
    """Poll /readyz right after the signal until it answers 503; the listener must still be open."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            response = httpx.get(proc.url + "/readyz", timeout=5)
        except httpx.ConnectError as exc:
            raise AssertionError("listener closed before /readyz answered 503") from exc
        if response.status_code == 503:
            return response
        assert response.status_code == 200, response.text
        time.sleep(0.01)
    raise AssertionError("/readyz never answered 503 after SIGTERM")


def listener_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def wait_listener_closed(proc: LuminateProcess) -> None:
    deadline = time.monotonic() + WAIT_S
    while listener_open(proc.port):
        assert time.monotonic() < deadline, "listener still open long after the shutdown delay"
        time.sleep(0.05)


def wait_exit(proc: LuminateProcess) -> int:
    assert proc.proc is not None
    return proc.proc.wait(WAIT_S)


def stored_count_and_sum(proc: LuminateProcess) -> tuple[int, float]:
    response = httpx.post(
        proc.url + "/api/v1/query",
        json={
            "queryType": "aggregate",
            "metricName": METRIC,
            "aggregation": "sum",
            "timeRange": {"relative": "1h"},
        },
        headers=proc.headers(TENANT, "read"),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    if not results:
        return 0, 0.0
    return int(results[0]["count"]), float(results[0]["value"])


def log_messages(proc: LuminateProcess) -> list[str]:
    return [
        json.loads(line)["msg"] for line in proc.log_path.read_text().splitlines() if line.strip()
    ]


def test_sigterm_drains_in_flight_requests_and_exits_0(start_server: StartServer) -> None:
    proc = start_server(LUMINATE_SHUTDOWN_DELAY_SECONDS="2")
    during_delay = slow_writes(count=2, points=5000, start_value=0)
    after_close = slow_writes(count=2, points=5000, start_value=10_000)
    late_values = [20_000 + k + 0.5 for k in range(100)]

    with slow_pool(during_delay + after_close) as pool:
        first = start_slow(pool, proc, during_delay)
        second = start_slow(pool, proc, after_close)

        proc.signal(signal.SIGTERM)
        ready = wait_for_draining(proc)
        assert ready.json()["status"] == "draining"
        live = httpx.get(proc.url + "/healthz", timeout=5)
        assert live.status_code == 200
        assert live.json() == {"status": "alive"}
        health = httpx.get(proc.internal_url + "/api/v1/health", timeout=5)
        assert health.status_code == 503
        assert health.json()["draining"] is True

        # New work is still served during the delay, on responses that close their connection
        # so keep-alive clients reconnect elsewhere before the listener closes.
        late = write_now(proc, late_values)
        assert late.status_code == 200, late.text
        assert late.headers["connection"] == "close"
        assert live.headers["connection"] == "close"

        for w in during_delay:
            w.release.set()
        for w, f in zip(during_delay, first, strict=True):
            assert_accepted(f.result(timeout=WAIT_S), w)

        wait_listener_closed(proc)
        assert proc.proc is not None
        assert proc.proc.poll() is None, "process exited while requests were still in flight"
        for w in after_close:
            w.release.set()
        for w, f in zip(after_close, second, strict=True):
            assert_accepted(f.result(timeout=WAIT_S), w)

    assert wait_exit(proc) == 0
    messages = log_messages(proc)
    assert "draining" in messages
    assert "stopped" in messages
    assert messages.index("draining") < messages.index("stopped")

    acknowledged = [v for w in during_delay + after_close for v in w.values] + late_values
    restarted = start_server(data_dir=proc.data_dir)
    count, total = stored_count_and_sum(restarted)
    assert count == len(acknowledged)
    assert math.isclose(total, math.fsum(acknowledged), rel_tol=1e-9)


def test_sigterm_without_delay_exits_0_promptly(start_server: StartServer) -> None:
    proc = start_server(LUMINATE_SHUTDOWN_DELAY_SECONDS="0")
    values = [k + 0.5 for k in range(1000)]
    response = write_now(proc, values)
    assert response.status_code == 200, response.text

    proc.signal(signal.SIGTERM)
    assert wait_exit(proc) == 0
    assert not listener_open(proc.port)
    assert "stopped" in log_messages(proc)

    restarted = start_server(data_dir=proc.data_dir)
    count, total = stored_count_and_sum(restarted)
    assert count == len(values)
    assert math.isclose(total, math.fsum(values), rel_tol=1e-9)


def test_sigterm_without_delay_still_finishes_in_flight_write(start_server: StartServer) -> None:
    proc = start_server(LUMINATE_SHUTDOWN_DELAY_SECONDS="0")
    writes = slow_writes(count=1, points=2000, start_value=0)

    with slow_pool(writes) as pool:
        futures = start_slow(pool, proc, writes)
        proc.signal(signal.SIGTERM)
        wait_listener_closed(proc)
        writes[0].release.set()
        response = futures[0].result(timeout=WAIT_S)

    assert_accepted(response, writes[0])
    assert wait_exit(proc) == 0

    restarted = start_server(data_dir=proc.data_dir)
    count, total = stored_count_and_sum(restarted)
    assert count == 2000
    assert math.isclose(total, math.fsum(writes[0].values), rel_tol=1e-9)
