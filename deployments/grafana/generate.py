"""Luminate's Grafana dashboards as code (grafana-foundation-sdk), written to dashboards/*.json.

Run `.venv/bin/python deployments/grafana/generate.py` after changing a panel and commit the JSON;
tests/monitoring fails when the committed JSON differs from what this file generates, and
evaluates every panel query against a real Prometheus scraping a real Luminate.

Queries use fixed [5m] windows and the recording rules of deployments/prometheus/rules/, so what a
panel shows is what the alerts see."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
# The data source the provisioning file creates (provisioning/datasources/luminate.yaml).
DATASOURCE = DataSourceRef(type_val="prometheus", uid="luminate-prometheus")
API = 'route!~"/healthz|/readyz|/startupz|/metrics|/api/v1/health"'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[Query, ...]
    description: str = ""
    kind: str = "timeseries"
    # A core panel must show data on any running Luminate (tests/monitoring checks it live).
    core: bool = False


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    rows: tuple[tuple[str, tuple[Panel, ...]], ...]

    def panels(self) -> list[Panel]:
        return [p for _, panels in self.rows for p in panels]


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


SERVICE = Board(
    "luminate-service",
    "Luminate: service",
    (
        (
            "Requests",
            (
                Panel(
                    "Request rate by route",
                    "reqps",
                    (
                        q(
                            "sum by (route) (route_status:luminate_http_requests:rate5m)",
                            "{{route}}",
                        ),
                    ),
                    core=True,
                ),
                Panel(
                    "API error ratio (5xx)",
                    "percentunit",
                    (q("luminate:http_errors:ratio_rate5m", "5xx / all"),),
                    "Alert LuminateHighErrorRate fires above 5% for 5 minutes.",
                    core=True,
                ),
                Panel(
                    "Latency by route (p50, p95, p99)",
                    "s",
                    (
                        q("route:luminate_http_request_duration_seconds:p50_5m", "p50 {{route}}"),
                        q("route:luminate_http_request_duration_seconds:p95_5m", "p95 {{route}}"),
                        q("route:luminate_http_request_duration_seconds:p99_5m", "p99 {{route}}"),
                    ),
                    core=True,
                ),
                Panel(
                    "Responses by status",
                    "reqps",
                    (q(f"sum by (status) (rate(luminate_http_requests_total{{{API}}}[5m]))"),),
                    core=True,
                ),
            ),
        ),
        (
            "Ingest",
            (
                Panel(
                    "Points ingested per second",
                    "short",
                    (q("luminate:metrics_ingested:rate5m", "ingested"),),
                    core=True,
                ),
                Panel(
                    "Points rejected by reason",
                    "short",
                    (q("reason:luminate_metrics_rejected:rate5m", "{{reason}}"),),
                    core=True,
                ),
                Panel(
                    "Points per storage insert (p50, p95)",
                    "short",
                    (
                        q(
                            "histogram_quantile(0.5, sum by (le) "
                            "(rate(luminate_write_batch_size_bucket[5m])))",
                            "p50",
                        ),
                        q(
                            "histogram_quantile(0.95, sum by (le) "
                            "(rate(luminate_write_batch_size_bucket[5m])))",
                            "p95",
                        ),
                    ),
                    core=True,
                ),
                Panel(
                    "Write requests arriving",
                    "short",
                    (
                        q(
                            "sum(avg_over_time(luminate_write_requests_arriving[5m]))",
                            "5m average",
                        ),
                    ),
                    "Admitted and not yet handed to group commit (body being read or decoded); "
                    "an insert waits for these, up to LUMINATE_WRITE_BATCH_MAX_DELAY_MS.",
                    core=True,
                ),
            ),
        ),
        (
            "Storage",
            (
                Panel(
                    "Storage latency (p95)",
                    "s",
                    (
                        q("luminate:storage_write_duration_seconds:p95_5m", "insert"),
                        q("luminate:storage_query_duration_seconds:p95_5m", "query"),
                    ),
                    "Alerts fire above 100 ms (insert) and 500 ms (query) for 10 minutes.",
                    core=True,
                ),
                Panel(
                    "Storage errors by operation",
                    "short",
                    (q("op:luminate_storage_errors:rate5m", "{{op}}"),),
                ),
                Panel(
                    "Storage up (reads and writes) by pod",
                    "short",
                    (q('luminate_storage_up{job="luminate"}', "{{pod}} {{instance}}"),),
                    core=True,
                ),
            ),
        ),
        (
            "Tenants",
            (
                Panel(
                    "Active series by tenant (top 20)",
                    "short",
                    (
                        q(
                            "topk(20, max by (tenant_id) (luminate_tenant_active_series))",
                            "{{tenant_id}}",
                        ),
                    ),
                    core=True,
                ),
                Panel(
                    "Series against the limit (top 20)",
                    "percentunit",
                    (q("topk(20, tenant_id:luminate_tenant_series:ratio)", "{{tenant_id}}"),),
                    "Alert LuminateTenantNearSeriesLimit fires above 80%.",
                    core=True,
                ),
                Panel(
                    "Rate-limit refusals by tenant and limit",
                    "reqps",
                    (
                        q(
                            "tenant_id_limit:luminate_rate_limit_rejected:rate5m",
                            "{{tenant_id}} {{limit}}",
                        ),
                    ),
                ),
            ),
        ),
        (
            "Pods",
            (
                Panel(
                    "Resident memory",
                    "bytes",
                    (q('process_resident_memory_bytes{job="luminate"}', "{{pod}} {{instance}}"),),
                    core=True,
                ),
                Panel(
                    "CPU",
                    "short",
                    (
                        q(
                            'rate(process_cpu_seconds_total{job="luminate"}[5m])',
                            "{{pod}} {{instance}}",
                        ),
                    ),
                    core=True,
                ),
                Panel(
                    "Pods by version and environment",
                    "short",
                    (q("count by (version, environment) (luminate_build_info)"),),
                    kind="stat",
                    core=True,
                ),
            ),
        ),
    ),
)

STORAGE = Board(
    "luminate-clickhouse",
    "Luminate: ClickHouse and ZooKeeper",
    (
        (
            "Replicas (as Luminate sees them)",
            (
                Panel(
                    "Read-only replicas",
                    "short",
                    (q("sum(max by (replica) (luminate_clickhouse_replica_readonly))"),),
                    "Alert ClickHouseReplicaReadOnly fires for any.",
                    kind="stat",
                    core=True,
                ),
                Panel(
                    "Servers reachable",
                    "short",
                    (q("max by (replica) (luminate_clickhouse_replica_up)", "{{replica}}"),),
                    core=True,
                ),
                Panel(
                    "Replication delay",
                    "s",
                    (
                        q(
                            "max by (replica) (luminate_clickhouse_replica_absolute_delay_seconds)",
                            "{{replica}}",
                        ),
                    ),
                    core=True,
                ),
                Panel(
                    "Most parts in one partition",
                    "short",
                    (
                        q(
                            "max by (replica) (luminate_clickhouse_max_parts_per_partition)",
                            "{{replica}}",
                        ),
                    ),
                    "Alert ClickHouseTooManyParts fires above 250.",
                    core=True,
                ),
            ),
        ),
        (
            "ClickHouse (its own endpoint, cAdvisor, kubelet)",
            (
                Panel(
                    "Queries per second",
                    "short",
                    (
                        q(
                            "sum by (pod) "
                            '(rate(ClickHouseProfileEvents_Query{job="clickhouse"}[5m]))'
                        ),
                    ),
                ),
                Panel(
                    "Rows inserted per second",
                    "short",
                    (
                        q(
                            "sum by (pod) "
                            '(rate(ClickHouseProfileEvents_InsertedRows{job="clickhouse"}[5m]))'
                        ),
                    ),
                ),
                Panel(
                    "Merges running",
                    "short",
                    (q('sum by (pod) (ClickHouseMetrics_Merge{job="clickhouse"})'),),
                ),
                Panel(
                    "CPU against the limit",
                    "percentunit",
                    (
                        q(
                            "sum by (pod) (rate(container_cpu_usage_seconds_total"
                            '{container="clickhouse"}[5m])) / sum by (pod) '
                            '(kube_pod_container_resource_limits{container="clickhouse", '
                            'resource="cpu"})'
                        ),
                    ),
                ),
                Panel(
                    "Data volume free",
                    "percentunit",
                    (
                        q(
                            "kubelet_volume_stats_available_bytes"
                            '{persistentvolumeclaim=~"data-clickhouse-.*"} / '
                            "kubelet_volume_stats_capacity_bytes"
                            '{persistentvolumeclaim=~"data-clickhouse-.*"}',
                            "{{persistentvolumeclaim}}",
                        ),
                    ),
                ),
            ),
        ),
        (
            "ZooKeeper",
            (
                Panel(
                    "Request latency",
                    "ms",
                    (
                        q('avg_latency{job="zookeeper"}', "avg {{pod}}"),
                        q('max_latency{job="zookeeper"}', "max {{pod}}"),
                    ),
                ),
                Panel(
                    "Outstanding requests",
                    "short",
                    (q('outstanding_requests{job="zookeeper"}', "{{pod}}"),),
                ),
                Panel(
                    "Synced followers (leader)",
                    "short",
                    (q('max(synced_followers{job="zookeeper"})'),),
                    kind="stat",
                ),
                Panel(
                    "Sessions expired",
                    "short",
                    (q('sum(increase(stale_sessions_expired{job="zookeeper"}[15m]))'),),
                ),
            ),
        ),
    ),
)

BOARDS = (SERVICE, STORAGE)


def _panel(panel: Panel) -> db.Panel | timeseries.Panel | stat.Panel:
    builder = stat.Panel() if panel.kind == "stat" else timeseries.Panel()
    builder.title(panel.title).unit(panel.unit).datasource(DATASOURCE).height(8).span(8)
    if panel.description:
        builder.description(panel.description)
    for i, query in enumerate(panel.queries):
        target = prometheus.Dataquery().expr(query.expr).ref_id("ABCDEFGH"[i])
        if query.legend:
            target.legend_format(query.legend)
        builder.with_target(target)
    return builder


def build(board: Board) -> str:
    builder = (
        db.Dashboard(board.title)
        .uid(board.uid)
        .tags(["luminate"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
    )
    for title, panels in board.rows:
        builder.with_row(db.Row(title))
        for panel in panels:
            builder.with_panel(_panel(panel))
    return json.dumps(builder.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for board in BOARDS:
        (OUT / f"{board.uid}.json").write_text(build(board))
        print(f"wrote {OUT / (board.uid + '.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
