"""Luminate's app in the test process: `create_app(settings)` over the session's embedded engine,
its lifespan run as a server runs it (startup: migrations, batcher, maintenance; shutdown:
flush and stop), served through `httpx.ASGITransport` on an event-loop thread of its own.

Settings come from the same environment variables a `luminate serve` process of the e2e tier
gets, so a fixture reads the same in both tiers. What this tier cannot show is left to the
e2e tier: uvicorn's HTTP parsing, sockets and ports, signals, process exit and memory."""

from __future__ import annotations

import faulthandler
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from anyio.from_thread import start_blocking_portal
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from luminate.app import create_app
from luminate.observability.logging import JsonFormatter
from luminate.settings import Settings, load_settings
from luminate.storage.compile import Layout
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.store import Storage
from tests.support.asgi import BlockingASGITransport
from tests.support.served import served_env
from tests.support.tokens import auth_headers, token

BASE_URL = "http://luminate.test"
TIMEOUT_S = 120.0
# Startup runs migrations; on a loaded two-core machine that can take a while.
LIFESPAN_TIMEOUT_S = 120.0
SLOW_SHUTDOWN_S = 30.0


@dataclass
class InProcessApp:
    """One app. `client` sends requests to it; `log_path` holds the JSON log lines of the
    `luminate` loggers while it runs (lines of other apps alive at the same time included:
    loggers are process-wide)."""

    engine: EmbeddedEngine
    log_path: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    _stack: ExitStack | None = field(default=None, init=False)
    _client: httpx.Client | None = field(default=None, init=False)
    _internal: httpx.Client | None = field(default=None, init=False)
    _app: Starlette | None = field(default=None, init=False)

    def settings(self) -> Settings:
        return load_settings(served_env(self.env_extra))

    def start(self) -> InProcessApp:
        settings = self.settings()
        storage = Storage(
            self.engine,
            Layout(frozenset(settings.storage_promoted_dimensions)),
            fsync=settings.storage_fsync,
        )
        app = create_app(settings, storage=storage)
        with ExitStack() as stack:
            stack.enter_context(_LOGS.to(self.log_path))
            portal = stack.enter_context(start_blocking_portal())
            stack.enter_context(portal.wrap_async_context_manager(portal.call(_lifespan, app)))
            transport = BlockingASGITransport(portal, app)
            self._client = stack.enter_context(
                httpx.Client(transport=transport, base_url=BASE_URL, timeout=TIMEOUT_S)
            )
            # The app tells its two listeners apart by the port a request arrived on.
            self._internal = stack.enter_context(
                httpx.Client(
                    transport=transport,
                    base_url=f"{BASE_URL}:{settings.server_internal_port}",
                    timeout=TIMEOUT_S,
                )
            )
            self._app = app
            self._stack = stack.pop_all()
        return self

    def stop(self) -> None:
        """Shut down as a server does (writes flushed), then release the loop thread."""
        stack, self._stack, self._client, self._app = self._stack, None, None, None
        self._internal = None
        if stack is None:
            return
        # A shutdown that hangs is a finding: show where every thread stands while it hangs.
        faulthandler.dump_traceback_later(SLOW_SHUTDOWN_S, file=sys.stderr)
        try:
            stack.close()
        finally:
            faulthandler.cancel_dump_traceback_later()

    @property
    def client(self) -> httpx.Client:
        assert self._client is not None, "the app is not running"
        return self._client

    @property
    def internal(self) -> httpx.Client:
        """A client of the internal listener: /metrics and the detailed /api/v1/health."""
        assert self._internal is not None, "the app is not running"
        return self._internal

    @property
    def app(self) -> Starlette:
        assert self._app is not None, "the app is not running"
        return self._app

    def token(self, tenant: str, scopes: str = "read,write", ttl_s: int = 3600) -> str:
        return token(tenant, scopes, ttl_s)

    def headers(self, tenant: str, scopes: str = "read,write") -> dict[str, str]:
        return auth_headers(tenant, scopes)


StartApp = Callable[..., InProcessApp]


async def _lifespan(app: Starlette) -> LifespanManager:
    # Built on the loop: the manager finds its async library when it is constructed.
    return LifespanManager(
        app, startup_timeout=LIFESPAN_TIMEOUT_S, shutdown_timeout=LIFESPAN_TIMEOUT_S
    )


class _JsonLogs:
    """Per-app files of JSON log lines from the process-wide `luminate` logger, which logs at
    INFO (as a served process does) while any app runs."""

    def __init__(self) -> None:
        self._handlers: list[logging.Handler] = []
        self._level = logging.NOTSET

    @contextmanager
    def to(self, path: Path) -> Iterator[None]:
        logger = logging.getLogger("luminate")
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(JsonFormatter())
        if not self._handlers:
            self._level = logger.level
            logger.setLevel(logging.INFO)
        self._handlers.append(handler)
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            handler.close()
            self._handlers.remove(handler)
            if not self._handlers:
                logger.setLevel(self._level)


_LOGS = _JsonLogs()


@contextmanager
def serving(engine: EmbeddedEngine, log_dir: Path, **env: str) -> Iterator[InProcessApp]:
    """An app with extra settings `env` (environment variables), shut down on exit."""
    app = InProcessApp(engine, log_dir / "app.log", env).start()
    try:
        yield app
    finally:
        app.stop()
