"""The synchronous client (httpx)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import httpx

from luminate.client.wire import (
    RETRIED,
    ClientError,
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


class Client:
    """Talks to one Luminate with one token. `batch_size` points per write request (at most the
    server's LUMINATE_WRITE_MAX_POINTS)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        batch_size: int = 5000,
        gzip: bool = True,
        retrying: Retrying | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )
        self.batch_size = batch_size
        self.gzip = gzip
        self.retrying = retrying or Retrying()
        self._sleep = sleep

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retrying.attempts):
            last = attempt == self.retrying.attempts - 1
            try:
                r = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if last:
                    raise
                self._sleep(self.retrying.wait_s(attempt, None))
                continue
            if r.status_code not in RETRIED or last:
                return r
            self._sleep(self.retrying.wait_s(attempt, r.headers.get("retry-after")))
        raise AssertionError("unreachable")

    def write(self, points: Iterable[Point]) -> WriteResult:
        """Write every point, in batches; each batch is durable once its answer arrived. Refused
        points are reported, not raised; a batch refused as a whole raises ClientError (the
        batches before it stay written)."""
        results = []
        for start, batch in batches(points, self.batch_size):
            body, headers = encode(batch, self.gzip)
            r = self._send("POST", "/api/v1/write", content=body, headers=headers)
            results.append(write_result(r.status_code, r.content, start))
        return merge(results)

    def query(self, query: dict[str, Any]) -> dict[str, Any]:
        """A `/api/v1/query` body in, its answer out (see docs/api.md)."""
        r = self._send("POST", "/api/v1/query", json=query)
        if r.status_code != 200:
            raise error_of(r.status_code, r.content)
        answer: dict[str, Any] = r.json()
        return answer

    def promql(
        self,
        expr: str,
        *,
        time_s: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        step_s: float | None = None,
    ) -> list[Series]:
        """An instant query (`time_s`, default now) or, with start, end and step, a range query."""
        if start_s is not None and end_s is not None and step_s is not None:
            form = {"query": expr, "start": str(start_s), "end": str(end_s), "step": str(step_s)}
            r = self._send("POST", "/prometheus/api/v1/query_range", data=form)
        else:
            form = {"query": expr, "time": str(time_s if time_s is not None else time.time())}
            r = self._send("POST", "/prometheus/api/v1/query", data=form)
        return series_of(r.status_code, r.content)


__all__ = ["Client", "ClientError"]
