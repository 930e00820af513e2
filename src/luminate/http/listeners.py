"""The two listeners of `luminate serve`: the public port (the API) and the internal port
(/metrics and the detailed health report, which carry tenant ids and query storage on every
call). Both are served by one app; the local port a request arrived on decides what it may reach.
The probes answer on both, so the kubelet can use either."""

from __future__ import annotations

import socket

from starlette.types import ASGIApp, Receive, Scope, Send

from luminate.http.errors import error_response
from luminate.model.errors import NotFound
from luminate.settings import ConfigError, Settings

INTERNAL_ONLY = frozenset({"/metrics", "/api/v1/health"})
# Operator routes (backups of every tenant): internal port only, like the self-metrics.
INTERNAL_PREFIX = "/internal/"
PROBES = frozenset({"/healthz", "/readyz", "/startupz"})


class ListenerGate:
    """404 for internal paths on the public port, and for everything but internal paths and
    probes on the internal port; the same answer an unknown path gets."""

    def __init__(self, app: ASGIApp, internal_port: int) -> None:
        self.app = app
        self.internal_port = internal_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server") or ("", 0)
            internal = server[1] == self.internal_port
            path = scope["path"]
            internal_path = path in INTERNAL_ONLY or path.startswith(INTERNAL_PREFIX)
            if internal != internal_path and path not in PROBES:
                await error_response(NotFound(f"no endpoint at {path}"))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def open_listeners(settings: Settings) -> list[socket.socket]:
    """Bound sockets for the public and the internal port; ConfigError names the problem."""
    if settings.server_internal_port == settings.server_port:
        raise ConfigError(
            f"LUMINATE_SERVER_INTERNAL_PORT ({settings.server_internal_port}) must differ from "
            "LUMINATE_SERVER_PORT: the internal endpoints would be public"
        )
    out: list[socket.socket] = []
    try:
        for name, port in (
            ("LUMINATE_SERVER_PORT", settings.server_port),
            ("LUMINATE_SERVER_INTERNAL_PORT", settings.server_internal_port),
        ):
            out.append(_bind(settings.server_host, port, name))
    except ConfigError:
        for sock in out:
            sock.close()
        raise
    return out


def _bind(host: str, port: int, setting: str) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({setting}): {exc}") from None
    sock.set_inheritable(True)
    return sock
