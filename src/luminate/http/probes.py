"""Unauthenticated endpoints: probes, the detailed health report and /metrics."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from luminate.http.codec import health as codec
from luminate.http.context import services
from luminate.http.responses import JSON


async def healthz(request: Request) -> JSON:
    # Liveness never depends on storage: a restart would not fix storage.
    return JSON(codec.Liveness("alive"))


async def readyz(request: Request) -> JSON:
    ready = await services(request).health.ready()
    return JSON(codec.readiness(ready), status_code=200 if ready.ready else 503)


async def startupz(request: Request) -> JSON:
    started = services(request).health.started
    body = codec.Startup("started" if started else "starting")
    return JSON(body, status_code=200 if started else 503)


async def health(request: Request) -> JSON:
    report = await services(request).health.report()
    return JSON(codec.health(report), status_code=200 if report.healthy else 503)


async def metrics(request: Request) -> Response:
    # Rendering every tenant's series takes a while on a busy process: off the event loop, so a
    # scrape never holds up request handling.
    body = await asyncio.to_thread(generate_latest, services(request).metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
