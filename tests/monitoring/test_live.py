"""A real Prometheus scrapes a real `luminate serve` through its internal port with the
production scrape job, rules and alerts (intervals and `for:` in seconds); a real Alertmanager
with the production routes delivers to a webhook in this process.

- every alert and recording expression and every dashboard query evaluates without error, and
  the core panels show data;
- every metric they read is on Luminate's live /metrics or on the external exporters' list;
- on the 2x2 cluster, stopping ZooKeeper makes LuminateStorageUnhealthy and
  ClickHouseReplicaReadOnly fire through Alertmanager to the receivers the escalation names,
  with their labels and runbook_url;
- the backup job's metrics, pushed to a real Pushgateway and scraped by the production
  `pushgateway` job, make the backup alerts fire for the stale and failed backend only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway
from prometheus_client.parser import text_string_to_metric_families

from testbed.alertmanager import Alertmanager
from testbed.prometheus import Prometheus, PrometheusError
from testbed.pushgateway import Pushgateway
from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess
from tests.monitoring import dashboards
from tests.monitoring.artefacts import (
    EXTERNAL,
    RUNBOOK_BASE,
    exposed_names,
    external_metrics,
    load_rules,
    metric_names,
)
from tests.monitoring.live import (
    Webhook,
    alertmanager_config,
    pod_target,
    prometheus_config,
    service_target,
    wait_for,
)

pytestmark = pytest.mark.e2e
ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"}


def now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


def traffic(proc: LuminateProcess) -> None:
    """Writes (some points rejected), queries, discovery and a 404, so every core panel has
    something to show."""
    tenant = f"mon-{uuid.uuid4().hex[:8]}"
    headers = proc.headers(tenant)
    for i in range(5):
        body = {
            "metrics": [
                {
                    "name": "mon_requests",
                    "timestamp": now_ms() - 1000,
                    "value": float(i),
                    "dimensions": {"host": f"h{j}"},
                }
                for j in range(20)
            ]
            + [{"name": "9bad", "timestamp": now_ms(), "value": 1.0}]
        }
        r = httpx.post(proc.url + "/api/v1/write", json=body, headers=headers, timeout=30)
        assert r.status_code == 207, r.text
        q = {
            "queryType": "aggregate",
            "metricName": "mon_requests",
            "aggregation": "count",
            "timeRange": {"relative": "1h"},
        }
        r = httpx.post(proc.url + "/api/v1/query", json=q, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
    assert httpx.get(proc.url + "/api/v1/metrics", headers=headers, timeout=30).status_code == 200
    assert httpx.get(proc.url + "/nothing-here", timeout=30).status_code == 404


def start_prometheus(base: Path, proc: LuminateProcess, am: str | None = None) -> Prometheus:
    target = pod_target(proc.port, proc.internal_port, ANNOTATIONS)
    prom = Prometheus(base / "prometheus", config=prometheus_config(base, target, am)).start()
    try:
        wait_for(
            lambda: [t for t in prom.targets() if t["health"] == "up"],
            30,
            "the luminate target up",
        )
    except BaseException:
        prom.stop()
        raise
    return prom


@pytest.fixture(scope="module")
def embedded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LuminateProcess, Prometheus]]:
    base = tmp_path_factory.mktemp("live-embedded")
    proc = LuminateProcess(
        base / "data",
        base / "luminate.log",
        {"LUMINATE_STORAGE_PROBE_INTERVAL_SECONDS": "1"},
    ).start()
    prom = None
    try:
        traffic(proc)
        prom = start_prometheus(base, proc)
        traffic(proc)
        yield proc, prom
    finally:
        if prom is not None:
            prom.stop()
        proc.kill()


def test_the_production_scrape_job_reaches_the_internal_port(
    embedded: tuple[LuminateProcess, Prometheus],
) -> None:
    proc, prom = embedded
    (target,) = prom.targets()
    assert target["labels"]["job"] == "luminate"
    assert target["labels"]["pod"] == "luminate-0"
    assert target["labels"]["namespace"] == "luminate-prod"
    # Discovery handed Prometheus the public port; the relabelling moved it to the internal one.
    assert target["scrapeUrl"] == f"{proc.internal_url}/metrics"
    assert target["health"] == "up", target["lastError"]


def test_every_expression_evaluates_and_rules_are_healthy(
    embedded: tuple[LuminateProcess, Prometheus],
) -> None:
    _, prom = embedded
    expressions = [(r.file, r.name, r.expr) for r in load_rules()]
    expressions += [(file, title, expr) for file, title, expr, _ in dashboards.panel_queries()]
    failures = []
    for where, name, expr in expressions:
        try:
            prom.query(expr)
        except PrometheusError as exc:
            failures.append(f"{where}: {name}: {exc}")
    assert not failures, "\n".join(failures)

    def evaluated() -> list[dict[str, Any]]:
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        return rules if all(r.get("lastEvaluation", "").startswith("20") for r in rules) else []

    rules = wait_for(evaluated, 20, "every rule evaluated once")
    assert len(rules) == len(load_rules())
    broken = [f"{r['name']}: {r.get('lastError')}" for r in rules if r["health"] != "ok"]
    assert not broken, broken


def test_core_panels_show_data(embedded: tuple[LuminateProcess, Prometheus]) -> None:
    proc, prom = embedded
    core = [
        (file, title, expr) for file, title, expr, is_core in dashboards.panel_queries() if is_core
    ]
    assert len(core) >= 15

    def empty() -> list[str]:
        traffic(proc)
        return [f"{file}: {title}: {expr}" for file, title, expr in core if not prom.query(expr)]

    missing = empty()
    if missing:
        # Rates need two scrapes and recorded series one evaluation after them.
        wait_for(lambda: not empty(), 30, "core panels with data")


def test_every_metric_read_is_exported_or_external(
    embedded: tuple[LuminateProcess, Prometheus],
) -> None:
    proc, _ = embedded
    text = httpx.get(proc.internal_url + "/metrics", timeout=10).text
    exported = exposed_names([(f.name, f.type) for f in text_string_to_metric_families(text)])
    problems = unknown_metrics(exported, external_metrics())
    assert not problems, "\n".join(problems)


def unknown_metrics(exported: set[str], external: dict[str, str]) -> list[str]:
    recorded = {r.name for r in load_rules() if not r.is_alert}
    uses = [(r.file, r.name, r.expr) for r in load_rules()]
    uses += [(file, title, expr) for file, title, expr, _ in dashboards.panel_queries()]
    problems = []
    for where, name, expr in uses:
        for metric in sorted(metric_names(expr)):
            if metric not in exported and metric not in external and metric not in recorded:
                problems.append(
                    f"{where}: {name} reads {metric}, which Luminate's /metrics lacks and "
                    f"{EXTERNAL.name} does not list"
                )
    return problems


def test_a_metric_nobody_exports_is_named() -> None:
    """Negative control: drop a Luminate metric from the exported set and a backup metric from
    the external list; the lint names both, with the files that read them."""
    everything = {n for r in load_rules() for n in metric_names(r.expr)}
    everything |= {n for *_, e, _ in dashboards.panel_queries() for n in metric_names(e)}
    external = external_metrics()
    del external["luminate_backup_failures_total"]
    exported = everything - {"luminate_storage_up", *external_metrics()}
    problems = unknown_metrics(exported, external)
    assert any(
        p.startswith("deployments/prometheus/alerts/luminate-alerts.yaml: LuminateStorageUnhealthy")
        and "luminate_storage_up" in p
        for p in problems
    ), problems
    assert any("LuminateBackupFailed reads luminate_backup_failures_total" in p for p in problems)
    assert any("deployments/grafana/dashboards/luminate-service.json" in p for p in problems)


# -- through Alertmanager, on the 2x2 cluster --------------------------------------------------


def cluster_env(cluster: Cluster) -> dict[str, str]:
    return {
        "LUMINATE_STORAGE_BACKEND": "clickhouse",
        "LUMINATE_CLICKHOUSE_HOSTS": ",".join(cluster.hosts),
        "LUMINATE_CLICKHOUSE_DATABASE": "luminate",
        "LUMINATE_CLICKHOUSE_USERNAME": cluster.user,
        "LUMINATE_CLICKHOUSE_PASSWORD": cluster.password,
        "LUMINATE_CLICKHOUSE_CLUSTER": cluster.cluster_name,
        "LUMINATE_CLICKHOUSE_CONNECT_TIMEOUT_SECONDS": "1",
        "LUMINATE_STORAGE_PROBE_INTERVAL_SECONDS": "1",
    }


def test_zookeeper_loss_pages_through_alertmanager(
    tmp_path: Path, clickhouse_cluster: Cluster
) -> None:
    cluster = clickhouse_cluster
    proc = LuminateProcess(tmp_path / "unused", tmp_path / "luminate.log", cluster_env(cluster))
    proc.migrate()
    proc.start()
    hook = Webhook().start()
    am = prom = None
    try:
        am = Alertmanager(tmp_path / "am", config=alertmanager_config(tmp_path, hook.url)).start()
        prom = start_prometheus(tmp_path, proc, am.url)
        replicas = wait_for(
            lambda: prom.query('luminate_clickhouse_replica_readonly{job="luminate"} == 0'),
            30,
            "four writable replicas",
        )
        assert len(replicas) == 4
        assert prom.query('luminate_storage_up{job="luminate"} == 1')
        assert not hook.firing("LuminateStorageUnhealthy")

        cluster.stop_zookeeper()
        try:
            unhealthy = wait_for(
                lambda: hook.firing("LuminateStorageUnhealthy"), 120, "LuminateStorageUnhealthy"
            )
            readonly = wait_for(
                lambda: hook.firing("ClickHouseReplicaReadOnly"), 60, "ClickHouseReplicaReadOnly"
            )
            # Reads still work while writes cannot: storage_up counts writes, readiness does not.
            assert httpx.get(proc.url + "/readyz", timeout=5).status_code == 200
        finally:
            cluster.start_zookeeper()

        receiver, alert = unhealthy[0]
        assert receiver == "on-call"
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["component"] == "storage"
        assert alert["labels"]["job"] == "luminate"
        assert alert["annotations"]["runbook_url"] == RUNBOOK_BASE + "LuminateStorageUnhealthy.md"
        assert alert["annotations"]["summary"]
        # Critical ClickHouse alerts page the database team as well as on-call.
        assert {r for r, _ in readonly} == {"database-team", "on-call"}
        replica_labels = {a["labels"]["replica"] for _, a in readonly}
        assert replica_labels <= set(cluster.hosts), replica_labels
        assert readonly[0][1]["annotations"]["runbook_url"].endswith("ClickHouseReplicaReadOnly.md")

        # ZooKeeper back: the probe sees writable replicas again.
        wait_for(lambda: prom.query('luminate_storage_up{job="luminate"} == 1'), 120, "storage up")
    finally:
        if prom is not None:
            prom.stop()
        if am is not None:
            am.stop()
        hook.stop()
        proc.kill()


# -- the backup job's metrics, through a real Pushgateway ----------------------------------------


def push_backup(gateway: Pushgateway, backend: str, success_age_s: float, failed: bool) -> None:
    """What the backup job pushes (the metrics contract of the backup work), with the
    prometheus_client the job would use."""
    registry = CollectorRegistry()
    now = time.time()
    gauges = {
        "luminate_backup_last_success_timestamp_seconds": now - success_age_s,
        "luminate_backup_last_failure_timestamp_seconds": now - 60 if failed else 0.0,
        "luminate_backup_duration_seconds": 42.0,
        "luminate_backup_size_bytes": 1e9,
    }
    for name, value in gauges.items():
        Gauge(name, name, registry=registry).set(value)
    failures = Counter("luminate_backup_failures", "failed runs", registry=registry)
    if failed:
        failures.inc()
    push_to_gateway(
        gateway.address, job="luminate-backup", registry=registry, grouping_key={"backend": backend}
    )


def test_backup_alerts_fire_from_pushed_metrics(tmp_path: Path) -> None:
    gateway = Pushgateway(tmp_path / "gw").start()
    proc = LuminateProcess(tmp_path / "data", tmp_path / "luminate.log").start()
    prom = None
    try:
        push_backup(gateway, "s3", success_age_s=27 * 3600, failed=True)
        push_backup(gateway, "local", success_age_s=3600, failed=False)
        target = pod_target(proc.port, proc.internal_port, ANNOTATIONS)
        config = prometheus_config(
            tmp_path, target, pushgateway=service_target(gateway.address, "pushgateway")
        )
        prom = Prometheus(tmp_path / "prometheus", config=config).start()
        # honor_labels keeps the pushed job and backend, as the alerts expect.
        pushed = wait_for(
            lambda: prom.query('luminate_backup_size_bytes{job="luminate-backup"}'),
            30,
            "the pushed backup metrics",
        )
        assert {s["metric"]["backend"] for s in pushed} == {"s3", "local"}

        def firing() -> dict[str, set[str]]:
            out: dict[str, set[str]] = {}
            for a in prom.alerts():
                if a["state"] == "firing":
                    out.setdefault(a["labels"]["alertname"], set()).add(
                        a["labels"].get("backend", "")
                    )
            return out if {"LuminateBackupStale", "LuminateBackupFailed"} <= set(out) else {}

        alerts = wait_for(firing, 60, "backup alerts firing")
        # Only the backend whose last success is 27 hours old and whose last run failed.
        assert alerts["LuminateBackupStale"] == {"s3"}
        assert alerts["LuminateBackupFailed"] == {"s3"}
    finally:
        if prom is not None:
            prom.stop()
        proc.kill()
        gateway.stop()
