"""A loopback load balancer that routes like a Kubernetes Service in front of a Deployment.

The endpoints controller's view of each pod is modelled as Kubernetes keeps it:

- a pod is in rotation only once its readiness probe (GET /readyz, every `period_s`, each
  attempt bounded by `probe_timeout_s`) has passed; `failure_threshold` consecutive failures
  take it out again, a success brings it back;
- a pod marked Terminating leaves rotation without waiting for a probe (as the endpoints
  controller drops terminating pods), after `propagation_s`, the time the change takes to reach
  the proxies. `remove_on_terminate=False` makes readiness probes the only way out, which is
  what a pod without a preStop delay looks like from a slow proxy.

Requests are balanced one by one, round robin over the pods in rotation, and never retried: a
connection error or timeout towards a pod becomes a 502 for the client, exactly as a failed
request. Clients keep their connections to the balancer alive; the balancer keeps its own pool
of keep-alive connections per pod. Every response carries `X-Upstream: <pod name>`.

Everything runs on one event loop in a background thread (`BackgroundLoop`); the test thread
changes endpoints through the thread-safe methods of `Balancer`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
}
MAX_HEAD_BYTES = 64 * 1024


class BackgroundLoop:
    """An asyncio loop in a daemon thread, for code that must run beside a synchronous test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> BackgroundLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        async def cancel_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.call(cancel_rest(), timeout_s=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


@dataclass
class Endpoint:
    """One pod behind the Service."""

    name: str
    url: str
    ready: bool = False
    terminating: bool = False
    removed: bool = False
    """Out of rotation for good (terminated and propagated, or deleted)."""
    failures_in_a_row: int = 0
    probes: int = 0
    served: Counter[int] = field(default_factory=Counter)
    """Responses forwarded from this pod, by status."""
    errors: int = 0
    """Requests this pod never answered (connection refused or dropped, timeout)."""
    ready_at: float | None = None
    removed_at: float | None = None
    client: httpx.AsyncClient | None = None
    probe_task: asyncio.Task[None] | None = None

    @property
    def in_rotation(self) -> bool:
        return self.ready and not self.removed


@dataclass
class Balancer:
    """See the module docstring. Create it, then `BackgroundLoop.call(balancer.start())`."""

    background: BackgroundLoop
    period_s: float
    failure_threshold: int
    probe_timeout_s: float
    propagation_s: float = 0.0
    remove_on_terminate: bool = True
    request_timeout_s: float = 30.0
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    client_connections: int = 0
    no_endpoint: int = 0
    """Requests answered 503 because no pod was in rotation."""
    _server: asyncio.Server | None = None
    _next: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, "127.0.0.1", 0, limit=MAX_HEAD_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for endpoint in self.endpoints.values():
            await self._forget(endpoint)

    # Thread-safe controls, called from the test's thread.

    def add(self, name: str, url: str) -> None:
        """A new pod: probed from now on, in rotation once a probe passes."""
        self._on_loop(self._add(name, url))

    def terminate(self, name: str) -> None:
        """The pod is marked Terminating (deleted, preStop about to run)."""
        self._on_loop(self._terminate(name))

    def forget(self, name: str) -> None:
        """The pod is gone: no more probes, its connections are closed."""
        self._on_loop(self._forget(self.endpoints[name]))

    def wait_in_rotation(self, name: str, timeout_s: float) -> float:
        """Block until the pod is in rotation; returns the monotonic time it entered."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            endpoint = self.endpoints[name]
            if endpoint.in_rotation and endpoint.ready_at is not None:
                return endpoint.ready_at
            time.sleep(0.02)
        raise TimeoutError(f"{name} not Ready in the balancer within {timeout_s} s")

    def wait_out_of_rotation(self, name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.endpoints[name].in_rotation:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} still in rotation after {timeout_s} s")
            time.sleep(0.02)

    def _on_loop(self, coro: Coroutine[Any, Any, None]) -> None:
        self.background.call(coro, timeout_s=30)

    # The endpoints controller.

    async def _add(self, name: str, url: str) -> None:
        endpoint = Endpoint(
            name,
            url,
            client=httpx.AsyncClient(
                base_url=url,
                timeout=self.request_timeout_s,
                # Idle upstream connections expire well before the server's keep-alive timeout
                # (75 s), as a proxy must, or it would send on connections being closed.
                limits=httpx.Limits(max_keepalive_connections=16, keepalive_expiry=5.0),
            ),
        )
        self.endpoints[name] = endpoint
        endpoint.probe_task = asyncio.create_task(self._probe_forever(endpoint))

    async def _terminate(self, name: str) -> None:
        endpoint = self.endpoints[name]
        endpoint.terminating = True
        if self.remove_on_terminate:
            asyncio.get_running_loop().call_later(self.propagation_s, self._remove, endpoint)

    def _remove(self, endpoint: Endpoint) -> None:
        if not endpoint.removed:
            endpoint.removed = True
            endpoint.removed_at = time.monotonic()

    async def _forget(self, endpoint: Endpoint) -> None:
        self._remove(endpoint)
        if endpoint.probe_task is not None:
            endpoint.probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await endpoint.probe_task
            endpoint.probe_task = None
        if endpoint.client is not None:
            await endpoint.client.aclose()

    async def _probe_forever(self, endpoint: Endpoint) -> None:
        # Probes open a fresh connection each time, as the kubelet does.
        async with httpx.AsyncClient(base_url=endpoint.url, timeout=self.probe_timeout_s) as probe:
            while True:
                began = time.monotonic()
                try:
                    ok = (await probe.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                endpoint.probes += 1
                if ok:
                    endpoint.failures_in_a_row = 0
                    if not endpoint.ready:
                        endpoint.ready = True
                        endpoint.ready_at = time.monotonic()
                else:
                    endpoint.failures_in_a_row += 1
                    if endpoint.failures_in_a_row >= self.failure_threshold:
                        endpoint.ready = False
                await asyncio.sleep(max(0.0, self.period_s - (time.monotonic() - began)))

    def _pick(self) -> Endpoint | None:
        rotation = [e for e in self.endpoints.values() if e.in_rotation]
        if not rotation:
            return None
        self._next += 1
        return rotation[self._next % len(rotation)]

    # The proxy.

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.client_connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                method, target, headers, body = request
                status, out_headers, content = await self._forward(method, target, headers, body)
                keep_alive = headers.get("connection", "").lower() != "close"
                await _write_response(writer, status, out_headers, content, keep_alive)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        endpoint = self._pick()
        if endpoint is None or endpoint.client is None:
            self.no_endpoint += 1
            return 503, [("x-upstream", "-")], b"no endpoint in rotation"
        forwarded = [(k, v) for k, v in headers.items() if k not in HOP_BY_HOP]
        try:
            request = endpoint.client.build_request(method, target, headers=forwarded, content=body)
            response = await endpoint.client.send(request, stream=True)
            try:
                content = await _read_raw(response)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            endpoint.errors += 1
            reason = f"{type(exc).__name__}: {exc}".encode()
            return 502, [("x-upstream", endpoint.name)], reason
        endpoint.served[response.status_code] += 1
        out = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        out.append(("x-upstream", endpoint.name))
        return response.status_code, out, content


async def _read_raw(response: httpx.Response) -> bytes:
    """The body as the pod sent it (no decompression), so the client sees the same bytes."""
    return b"".join([chunk async for chunk in response.aiter_raw()])


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """One HTTP/1.1 request with a Content-Length body (all this balancer's clients send), or
    None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise ValueError("chunked request bodies are not supported by this balancer")
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, target, headers, body


async def _write_response(
    writer: asyncio.StreamWriter,
    status: int,
    headers: list[tuple[str, str]],
    content: bytes,
    keep_alive: bool,
) -> None:
    head = [f"HTTP/1.1 {status} {_reason(status)}"]
    head += [f"{k}: {v}" for k, v in headers]
    head.append(f"content-length: {len(content)}")
    head.append(f"connection: {'keep-alive' if keep_alive else 'close'}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + content)
    await writer.drain()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
