"""The asyncio client (httpx), the same calls as `Client`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any

import httpx

from luminate.client.wire import (
    RETRIED,
    Point,
    Retrying,
    Series,
    WriteResult,
    batches,
    encode,
    error_of,
    merge,
    series_of,
    write_result,
)


class AsyncClient:
    """Talks to one Luminate with one token; see `Client`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        batch_size: int = 5000,
        gzip: bool = True,
        retrying: Retrying | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )
        self.batch_size = batch_size
        self.gzip = gzip
        self.retrying = retrying or Retrying()
        self._sleep = sleep

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retrying.attempts):
            last = attempt == self.retrying.attempts - 1
            try:
                r = await self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if last:
                    raise
                await self._sleep(self.retrying.wait_s(attempt, None))
                continue
            if r.status_code not in RETRIED or last:
                return r
            await self._sleep(self.retrying.wait_s(attempt, r.headers.get("retry-after")))
        raise AssertionError("unreachable")

    async def write(self, points: Iterable[Point]) -> WriteResult:
        results = []
        for start, batch in batches(points, self.batch_size):
            body, headers = encode(batch, self.gzip)
            r = await self._send("POST", "/api/v1/write", content=body, headers=headers)
            results.append(write_result(r.status_code, r.content, start))
        return merge(results)

    async def query(self, query: dict[str, Any]) -> dict[str, Any]:
        r = await self._send("POST", "/api/v1/query", json=query)
        if r.status_code != 200:
            raise error_of(r.status_code, r.content)
        answer: dict[str, Any] = r.json()
        return answer

    async def promql(
        self,
        expr: str,
        *,
        time_s: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        step_s: float | None = None,
    ) -> list[Series]:
        if start_s is not None and end_s is not None and step_s is not None:
            form = {"query": expr, "start": str(start_s), "end": str(end_s), "step": str(step_s)}
            r = await self._send("POST", "/prometheus/api/v1/query_range", data=form)
        else:
            form = {"query": expr, "time": str(time_s if time_s is not None else time.time())}
            r = await self._send("POST", "/prometheus/api/v1/query", data=form)
        return series_of(r.status_code, r.content)
