"""A synchronous httpx transport over `httpx.ASGITransport`, for an ASGI app whose event loop
runs in its own thread (an anyio blocking portal).

Tests stay plain synchronous functions, as they are against a served process: a request is sent
from the test's thread (or from several threads at once, for concurrency tests) and runs on the
app's loop. A request body given as an iterator reaches the app chunk by chunk, each chunk only
when the app reads it, as over a socket: a body that has not finished arriving holds its request
open, and the caller learns when the app has read a chunk."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

import anyio
import httpx
from anyio.from_thread import BlockingPortal
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.types import ASGIApp


class _Chunks(httpx.AsyncByteStream):
    """The request body as the app reads it: chunks handed over from the caller's thread."""

    def __init__(self, chunks: MemoryObjectReceiveStream[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk


class BlockingASGITransport(httpx.BaseTransport):
    def __init__(self, portal: BlockingPortal, app: ASGIApp) -> None:
        self._portal = portal
        self._asgi = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.stream
        if isinstance(body, httpx.AsyncByteStream):  # bytes: the app reads them at once
            answer = self._portal.start_task_soon(self._send, request, None)
        else:
            # No buffer: a chunk is handed over only when the app reads it.
            feed, chunks = anyio.create_memory_object_stream[bytes](0)
            request.stream = _Chunks(chunks)
            answer = self._portal.start_task_soon(self._send, request, chunks)
            try:
                for chunk in body if isinstance(body, Iterable) else ():
                    self._portal.call(feed.send, chunk)
            except anyio.BrokenResourceError:
                pass  # the app answered without reading the rest (a 413, say)
            finally:
                self._portal.call(feed.close)
        try:
            status, headers, content = answer.result(timeout=_timeout_s(request))
        except FutureTimeout:
            answer.cancel()
            raise httpx.ReadTimeout("the app did not answer in time", request=request) from None
        return httpx.Response(status, headers=headers, content=content)

    async def _send(
        self, request: httpx.Request, chunks: MemoryObjectReceiveStream[bytes] | None
    ) -> tuple[int, httpx.Headers, bytes]:
        try:
            response = await self._asgi.handle_async_request(request)
            return response.status_code, response.headers, await response.aread()
        finally:
            if chunks is not None:
                chunks.close()  # a caller still handing over chunks stops


def _timeout_s(request: httpx.Request) -> float | None:
    """The longest of the request's timeouts: an in-process request has no separate connect,
    write and pool phases, only the wait for the whole answer."""
    timeouts = request.extensions.get("timeout", {})
    values = [v for v in timeouts.values() if v is not None]
    return max(values) if values else None


@contextmanager
def unfinished_request(
    client: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str],
    first: bytes,
    timeout_s: float = 30.0,
) -> Iterator[None]:
    """A request whose body starts with `first` and ends only when the block exits. The block
    is entered once the app has read `first`; meanwhile the app holds the request open (a
    query, for one, holds its tenant's query slot)."""
    read, release = threading.Event(), threading.Event()

    def body() -> Iterator[bytes]:
        yield first
        read.set()  # the transport asks for more only once the app has read `first`
        release.wait(timeout_s)

    sender = threading.Thread(
        target=lambda: client.request(method, path, headers=headers, content=body()),
        name="unfinished-request",
    )
    sender.start()
    try:
        assert read.wait(timeout_s), f"the app did not read the body of {method} {path}"
        yield
    finally:
        release.set()
        sender.join(timeout_s)
