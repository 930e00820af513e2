"""`luminate serve`: uvicorn with Luminate's shutdown sequence.

On SIGTERM (or SIGINT): readiness answers 503 at once; the process keeps serving for
LUMINATE_SHUTDOWN_DELAY_SECONDS so load balancers notice; then the listener closes, in-flight
requests finish, buffered writes are flushed, storage is closed, and the process exits 0."""

from __future__ import annotations

import gc
import logging
import math
import signal
import threading
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from luminate.app import build_storage, create_app
from luminate.http.listeners import open_listeners
from luminate.http.protocol import protocol_class
from luminate.http.security import server_head_limit
from luminate.settings import Settings

log = logging.getLogger("luminate.server")


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Starlette, delay_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._delay_s = delay_s
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining:
            if sig == signal.SIGINT:
                self.force_exit = True
            return
        self._draining = True
        services = getattr(self._app.state, "services", None)
        if services is not None:
            services.health.draining = True
        log.info("draining", extra={"signal": signal.Signals(sig).name, "delay_s": self._delay_s})
        if self._delay_s > 0:
            timer = threading.Timer(self._delay_s, self._stop)
            timer.daemon = True
            timer.start()
        else:
            self._stop()

    def _stop(self) -> None:
        self.should_exit = True


def serve(settings: Settings) -> None:
    """Opens storage first, so a configuration or storage problem is one clear error before
    anything listens."""
    storage = build_storage(settings)
    try:
        if storage.backend != "embedded":
            storage.verify_schema()
        app = create_app(settings, storage=storage, own_storage=True)
        sockets = open_listeners(settings)
    except BaseException:
        storage.close()
        raise
    config = uvicorn.Config(
        app,
        host=settings.server_host,
        port=settings.server_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop="uvloop",
        # h11 rather than httptools: httptools buffers a request head of any size, h11 cuts
        # one off past h11_max_incomplete_event_size. That cap sits above
        # LUMINATE_HTTP_MAX_HEADER_BYTES, so heads just over our limit get the app's JSON 431,
        # and heads past it get the protocol's own JSON 431.
        http=protocol_class(
            head_timeout_s=settings.http_head_timeout_seconds,
            max_connections=settings.http_max_connections,
            max_head_bytes=settings.http_max_header_bytes,
        ),
        h11_max_incomplete_event_size=server_head_limit(settings.http_max_header_bytes),
        # Whole seconds for uvicorn; rounded up so a fraction never becomes 0 (no grace at all).
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout_seconds),
        timeout_keep_alive=75,
        server_header=False,
    )
    server = _Server(config, app, settings.shutdown_delay_seconds)
    # Decoding a write allocates several objects per point; with the default thresholds the
    # cyclic collector runs every few hundred points and costs about a third of the write path.
    # Long-lived startup objects are frozen out of collection, young collections run rarer.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    server.run(sockets=sockets)
    if not server.started:
        raise SystemExit(3)
