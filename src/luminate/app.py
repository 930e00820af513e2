"""The composition root: settings in, a ready ASGI app out. Nothing else builds services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from luminate.admin.service import AdminService
from luminate.auth.jwks import open_key_source
from luminate.auth.tokens import TokenVerifier, check_algorithms, uses_secret
from luminate.health.service import Health
from luminate.health.storage_probe import StorageProbe
from luminate.http import api, errors, identity, openapi, otlp, probes, prometheus, push, ui
from luminate.http import backups as backup_routes
from luminate.http.codec.write import WriteDecoder
from luminate.http.context import Services
from luminate.http.listeners import ListenerGate
from luminate.http.middleware import RequestMiddleware
from luminate.http.security import HeadLimit, SecurityHeaders, cors_middleware
from luminate.ingest.batcher import Batcher
from luminate.ingest.idempotency import RecentWrites
from luminate.ingest.service import WriteService
from luminate.ingest.validate import PointValidator
from luminate.limits.config import LimitsTable, TenantLimits
from luminate.limits.coordination import Coordination
from luminate.limits.limiter import Limiter
from luminate.limits.share import Mode
from luminate.model.query import QueryLimits
from luminate.observability.metrics import Metrics
from luminate.query.promql.service import PromQLService
from luminate.query.service import QueryService
from luminate.settings import ConfigError, Settings
from luminate.storage.calls import StorageCalls
from luminate.storage.compile import Layout
from luminate.storage.journal import JOURNAL_FILE, Journal
from luminate.storage.promql import SeriesReads
from luminate.storage.schema import Topology
from luminate.storage.store import Storage

log = logging.getLogger("luminate")

ROUTES = [
    Route("/api/v1/write", api.write, methods=["POST"]),
    Route("/api/v1/query", api.query, methods=["POST"]),
    Route("/api/v1/metrics", api.list_metrics, methods=["GET"]),
    Route("/api/v1/metrics/{name}/dimensions", api.list_dimensions, methods=["GET"]),
    Route(
        "/api/v1/metrics/{name}/dimensions/{key}/values",
        api.list_dimension_values,
        methods=["GET"],
    ),
    Route("/api/v1/cardinality", api.cardinality, methods=["GET"]),
    Route("/api/v1/auth/whoami", identity.whoami, methods=["GET"]),
    Route("/api/v1/admin/retention", api.retention, methods=["GET", "POST"]),
    Route("/api/v1/admin/metrics/{name}", api.delete_metric, methods=["DELETE"]),
    Route("/healthz", probes.healthz, methods=["GET"]),
    Route("/readyz", probes.readyz, methods=["GET"]),
    Route("/startupz", probes.startupz, methods=["GET"]),
    Route("/api/v1/health", probes.health, methods=["GET"]),
    Route("/metrics", probes.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.openapi, methods=["GET"]),
    # Other protocols: Prometheus remote_write, OTLP/HTTP metrics, the Prometheus query API.
    Route("/api/v1/push", push.push, methods=["POST"]),
    Route("/v1/metrics", otlp.export, methods=["POST"]),
    *[
        Route(f"/prometheus/api/v1/{path}", handler, methods=methods)
        for path, handler, methods in (
            ("query", prometheus.query, ["GET", "POST"]),
            ("query_range", prometheus.query_range, ["GET", "POST"]),
            ("labels", prometheus.labels, ["GET", "POST"]),
            ("label/{name}/values", prometheus.label_values, ["GET"]),
            ("series", prometheus.series, ["GET", "POST"]),
            ("metadata", prometheus.metadata, ["GET"]),
            ("status/buildinfo", prometheus.buildinfo, ["GET"]),
        )
    ],
]


def build_storage(settings: Settings) -> Storage:
    """Open the configured backend. Raises ConfigError or StorageError with a clear message."""
    layout = Layout(frozenset(settings.storage_promoted_dimensions))
    if settings.storage_backend == "clickhouse":
        from luminate.storage.clickhouse import ClickHouseEngine, parse_hosts  # noqa: PLC0415

        try:
            hosts = parse_hosts(settings.clickhouse_hosts)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        cluster = settings.clickhouse_cluster or None
        server = ClickHouseEngine(
            hosts,
            database=settings.clickhouse_database,
            user=settings.clickhouse_username,
            password=settings.clickhouse_secret(),
            pool_size=settings.query_concurrency,
            writers=settings.write_concurrent_inserts,
            connect_timeout_s=settings.clickhouse_connect_timeout_seconds,
            cluster=cluster,
            insert_quorum=settings.clickhouse_insert_quorum,
            insert_quorum_timeout_s=settings.clickhouse_insert_quorum_timeout_seconds,
        )
        return Storage(
            server,
            layout,
            fsync=settings.storage_fsync,
            topology=Topology(database=settings.clickhouse_database, cluster=cluster),
        )
    from luminate.storage.embedded import EmbeddedEngine  # noqa: PLC0415  (loads the engine)

    engine = EmbeddedEngine(
        settings.data_dir,
        pool_size=settings.query_concurrency,
        writers=settings.write_concurrent_inserts,
    )
    try:
        # Opened once the engine holds the directory's lock: one process writes the journal.
        journal = Journal(
            Path(settings.data_dir).resolve() / JOURNAL_FILE, fsync=settings.storage_fsync
        )
    except OSError as exc:
        engine.close()
        raise ConfigError(f"insert journal in LUMINATE_DATA_DIR: {exc}") from None
    return Storage(engine, layout, fsync=settings.storage_fsync, journal=journal)


def build_verifier(settings: Settings) -> TokenVerifier:
    algorithms = settings.jwt_algorithms
    try:
        check_algorithms(algorithms)
        keys = open_key_source(
            file=settings.jwt_jwks_file,
            url=settings.jwt_jwks_url,
            algorithms=algorithms,
            cache_s=settings.jwt_jwks_cache_seconds,
        )
        return TokenVerifier(
            settings.secret() if uses_secret(algorithms) else "",
            algorithms=algorithms,
            keys=keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=settings.jwt_leeway_seconds,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


async def _prepare_embedded(store: Storage) -> asyncio.Task[int] | None:
    """An embedded store's schema, the removal of inserts a crash cut short, and the online copy
    of a previous layout's rows (returned as a task while it runs)."""
    await asyncio.to_thread(store.migrate)
    rolled_back = await asyncio.to_thread(store.recover)
    if rolled_back:
        log.warning("removed inserts cut short by a crash", extra={"inserts": rolled_back})
    if not store.migrating:
        return None
    # Rows of the previous layout move over while the service runs.
    return asyncio.create_task(asyncio.to_thread(store.copy_previous_layout))


def create_app(
    settings: Settings, *, storage: Storage | None = None, own_storage: bool = False
) -> Starlette:
    """The app. Storage is opened at startup unless one is passed in; the app closes it at
    shutdown when it opened it or `own_storage` says so. Migrations run at startup."""
    verifier = build_verifier(settings)
    metrics = Metrics(backend=settings.storage_backend, environment=settings.environment)
    limits = LimitsTable(TenantLimits.from_settings(settings), settings.limits_overrides_file)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = storage is None or own_storage
        # Enough threads for every query slot, every concurrent insert and the probes, so a
        # readiness check never waits behind storage work for a free thread.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(
                max_workers=settings.query_concurrency + settings.write_concurrent_inserts + 4,
                thread_name_prefix="luminate-storage",
            )
        )
        store = storage if storage is not None else build_storage(settings)
        copying: asyncio.Task[int] | None = None
        try:
            if store.backend == "embedded":
                copying = await _prepare_embedded(store)
            else:
                # A server's schema is an explicit step (`luminate migrate`), not a side effect.
                await asyncio.to_thread(store.verify_schema)
            services = _services(settings, metrics, verifier, store, limits)
            if store.journal is not None:
                # Writes stored before a restart still count: their retries are recognised.
                keys = store.journal.recent_keys(time.time_ns())
                services.writes.recent.seed({k: ns / 1e9 for k, ns in keys.items()})
            app.state.services = services
            coordination = _coordination(settings, store, services, metrics)
            await coordination.start()
            app.state.backups = backup_routes.ServerBackups(settings, store)
            services.writes.batcher.start()
            maintenance = asyncio.create_task(
                services.admin.maintain(settings.retention_check_interval_seconds)
            )
            services.health.started = True
            probe = StorageProbe(
                store, metrics, settings.readiness_timeout_ms / 1000, services.writes.batcher
            )
            await probe.check()
            probing = asyncio.create_task(probe.run(settings.storage_probe_interval_seconds))
            log.info("started", extra={"backend": store.backend, "settings": settings.redacted()})
            try:
                yield
            finally:
                services.health.draining = True
                for task in (maintenance, probing):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await services.writes.batcher.close()
                await coordination.close()
                if copying is not None:
                    store.stop_copying()
                    with contextlib.suppress(Exception):
                        await copying
                log.info("stopped")
        finally:
            if owned:
                store.close()

    return Starlette(
        # ROUTES are the tenant API's; the UI's are static files; the backup routes are for
        # operators (their own token), not part of the tenant API.
        routes=[*ROUTES, *ui.routes(), *backup_routes.ROUTES],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(RequestMiddleware, metrics=metrics),
            Middleware(ListenerGate, internal_port=settings.server_internal_port),
            *cors_middleware(settings.cors_allowed_origins, settings.cors_max_age_seconds),
            Middleware(HeadLimit, max_bytes=settings.http_max_header_bytes),
        ],
        exception_handlers=errors.HANDLERS,
        lifespan=lifespan,
    )


def _coordination(
    settings: Settings, store: Storage, services: Services, metrics: Metrics
) -> Coordination:
    """Limits shared with the other processes on this storage, wired into the limiter and the
    health report."""
    coordination = Coordination(
        store,
        services.limiter.series,
        metrics,
        mode=Mode(settings.limits_mode),
        heartbeat_interval_s=settings.limits_heartbeat_interval_seconds,
        heartbeat_timeout_s=settings.limits_heartbeat_timeout_seconds,
        sync_interval_s=settings.limits_series_sync_interval_seconds,
    )
    services.limiter.share = coordination.share
    services.health.limits = coordination.status
    return coordination


def _services(
    settings: Settings,
    metrics: Metrics,
    verifier: TokenVerifier,
    store: Storage,
    limits_table: LimitsTable,
) -> Services:
    calls = StorageCalls(metrics, settings.query_concurrency)
    batcher = Batcher(
        store.write,
        max_points=settings.write_batch_max_points,
        max_delay_s=settings.write_batch_max_delay_ms / 1000,
        max_inflight=settings.write_concurrent_inserts,
        on_batch=metrics.batch_written,
    )
    metrics.writes_arriving.set_function(lambda: batcher.arriving_count)
    validator = PointValidator(
        max_age_ms=settings.write_max_age_seconds * 1000,
        max_future_ms=settings.write_max_future_seconds * 1000,
        max_points=settings.write_max_points,
    )
    limits = QueryLimits(
        default_limit=settings.query_default_limit,
        max_limit=settings.query_max_limit,
        default_timeout_s=settings.query_default_timeout_seconds,
        max_timeout_s=settings.query_max_timeout_seconds,
        max_buckets=settings.query_max_buckets,
    )
    limiter = Limiter(limits_table, metrics, settings.cardinality_window_seconds)
    return Services(
        settings=settings,
        metrics=metrics,
        verifier=verifier,
        limiter=limiter,
        write_decoder=WriteDecoder(validator),
        writes=WriteService(
            batcher, metrics, limiter, RecentWrites(settings.write_dedup_window_seconds)
        ),
        queries=QueryService(store, calls, limits),
        admin=AdminService(store, calls),
        health=Health(store, metrics, settings.readiness_timeout_ms / 1000, batcher),
        promql=PromQLService(SeriesReads(store.engine, lambda: store.layout), calls),
    )
