"""Per-request plumbing as plain ASGI: request id, access log, HTTP metrics by route template."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luminate.http.errors import unexpected
from luminate.observability.logging import request_id
from luminate.observability.metrics import Metrics

log = logging.getLogger("luminate.http")
_INCOMING_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
# The `method` label takes these values and `other`: a client can send any token as a method.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        rid = incoming if incoming and _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        responded = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                responded = True
                status = message["status"]
                message.setdefault("headers", [])
                extra = [(b"x-request-id", rid.encode())]
                if _draining(scope):
                    # Keep-alive clients move to another replica before the listener closes,
                    # instead of sending their next request into a closing connection.
                    extra.append((b"connection", b"close"))
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # Answered here rather than by the framework's outermost handler, so the answer
                # still carries the request id and passes the outer (security) middleware.
                if responded:
                    raise
                await unexpected(exc, Request(scope))(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            label = method if method in _METHODS else "other"
            self.metrics.http_requests.labels(method=label, route=route, status=str(status)).inc()
            self.metrics.http_duration.labels(method=label, route=route).observe(elapsed)
            if route not in ("/healthz", "/readyz", "/startupz", "/metrics"):
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id.reset(token)


def _draining(scope: Scope) -> bool:
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    return bool(services is not None and services.health.draining)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
