"""Luminate's own metrics. The names are a contract: alerts and dashboards use them."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from luminate import __version__

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH = (1, 10, 100, 500, 1000, 5000, 10_000, 50_000, 100_000, 200_000)


class Metrics:
    """One registry per app instance, so every test can build a fresh app."""

    def __init__(self, backend: str, environment: str = "") -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.backend = backend
        self.http_requests = Counter(
            "luminate_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "luminate_http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.storage_write_duration = Histogram(
            "luminate_storage_write_duration_seconds",
            "Latency of one storage insert.",
            ["backend"],
            buckets=_LATENCY,
            registry=r,
        )
        self.storage_query_duration = Histogram(
            "luminate_storage_query_duration_seconds",
            "Latency of one storage query.",
            ["backend"],
            buckets=_LATENCY,
            registry=r,
        )
        self.storage_errors = Counter(
            "luminate_storage_errors", "Storage operations that failed.", ["op"], registry=r
        )
        self.storage_up = Gauge(
            "luminate_storage_up",
            "1 when the storage probe found reads and writes possible, else 0.",
            registry=r,
        )
        self.ingested = Counter(
            "luminate_metrics_ingested", "Points accepted and stored.", registry=r
        )
        self.rejected = Counter(
            "luminate_metrics_rejected",
            "Points rejected by reason; a write rejected as a whole counts once under its code.",
            ["reason"],
            registry=r,
        )
        self.rate_limited = Counter(
            "luminate_rate_limit_rejected",
            "Requests rejected by a rate limit.",
            ["tenant_id", "limit"],
            registry=r,
        )
        self.active_series = Gauge(
            "luminate_tenant_active_series",
            "Estimated distinct series per tenant in the current window (HyperLogLog).",
            ["tenant_id"],
            registry=r,
        )
        self.series_limit = Gauge(
            "luminate_tenant_series_limit",
            "The tenant's distinct-series limit (LUMINATE_CARDINALITY_MAX_SERIES or override).",
            ["tenant_id"],
            registry=r,
        )
        self.duplicates = Counter(
            "luminate_write_duplicates",
            "Write requests identical to one stored within the dedup window (a client's retry): "
            "answered as stored, nothing stored again.",
            registry=r,
        )
        self.impersonations = Counter(
            "luminate_admin_impersonations",
            "Requests in which an admin token acted as another tenant (?tenant=).",
            ["route"],
            registry=r,
        )
        self.limits_members = Gauge(
            "luminate_limits_members",
            "Processes this one divides the tenant rate limits among (1 in local mode).",
            registry=r,
        )
        self.limits_mode = Gauge(
            "luminate_limits_mode",
            "1 for the mode the limits are enforced in (global or local), 0 for the other.",
            ["mode"],
            registry=r,
        )
        self.limits_fallback = Gauge(
            "luminate_limits_fallback",
            "1 while limits configured global are enforced locally (the process cannot count "
            "the others), else 0.",
            registry=r,
        )
        self.batch_size = Histogram(
            "luminate_write_batch_size",
            "Points per storage insert (after group commit).",
            buckets=_BATCH,
            registry=r,
        )
        self.writes_arriving = Gauge(
            "luminate_write_requests_arriving",
            "Write requests admitted and not yet handed to group commit (body being read, "
            "decoded or checked); an insert being gathered waits for these.",
            registry=r,
        )
        self.build_info = Gauge(
            "luminate_build_info", "Build information.", ["version", "environment"], registry=r
        )
        self.build_info.labels(version=__version__, environment=environment).set(1)
        self.replica_up = Gauge(
            "luminate_clickhouse_replica_up",
            "1 when the storage probe reached this ClickHouse server, else 0.",
            ["replica"],
            registry=r,
        )
        self.replica_readonly = Gauge(
            "luminate_clickhouse_replica_readonly",
            "1 when a replicated table of Luminate's on this server is read-only (no ZooKeeper).",
            ["replica"],
            registry=r,
        )
        self.replica_delay = Gauge(
            "luminate_clickhouse_replica_absolute_delay_seconds",
            "Largest replication delay of Luminate's replicated tables on this server.",
            ["replica"],
            registry=r,
        )
        self.max_parts = Gauge(
            "luminate_clickhouse_max_parts_per_partition",
            "Most active parts in one partition of Luminate's tables on this server.",
            ["replica"],
            registry=r,
        )
        self.storage_up.set(0)
        self.storage_write_duration.labels(backend=backend)
        self.storage_query_duration.labels(backend=backend)

    def batch_written(self, points: int, seconds: float) -> None:
        self.batch_size.observe(points)
        self.storage_write_duration.labels(backend=self.backend).observe(seconds)
