"""A Python client for Luminate: batched, gzip-compressed writes with retries that honour
`Retry-After`, per-point error reports, and typed query answers. Sync (`Client`) and async
(`AsyncClient`); install with `pip install 'luminate[client]'`.

    with Client("https://luminate.example.com", token) as c:
        result = c.write([Point("api_latency", 12.5, dimensions={"endpoint": "/cart"})])
        rows = c.promql("sum(rate(http_requests_total[5m]))")
"""

from __future__ import annotations

from luminate.client.asynchronous import AsyncClient
from luminate.client.sync import Client
from luminate.client.wire import (
    ClientError,
    Point,
    PointError,
    Retrying,
    Sample,
    Series,
    WriteResult,
)

__all__ = [
    "AsyncClient",
    "Client",
    "ClientError",
    "Point",
    "PointError",
    "Retrying",
    "Sample",
    "Series",
    "WriteResult",
]
