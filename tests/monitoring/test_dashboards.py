"""Dashboards as code: the committed JSON is what the generator makes, every panel query is
PromQL over known metrics, and the provisioning files point at the dashboards."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.monitoring import dashboards
from tests.monitoring.artefacts import REPO, load_rules, metric_names, run

GRAFANA = REPO / "deployments" / "grafana"


def test_committed_dashboards_match_the_generator() -> None:
    gen = dashboards.generator()
    for board in gen.BOARDS:
        path = GRAFANA / "dashboards" / f"{board.uid}.json"
        assert path.read_text() == gen.build(board), (
            f"{path.relative_to(REPO)} is stale: "
            "run .venv/bin/python deployments/grafana/generate.py"
        )


def test_every_dashboard_file_comes_from_the_generator() -> None:
    made = {f"{b.uid}.json" for b in dashboards.generator().BOARDS}
    assert {p.name for p in (GRAFANA / "dashboards").glob("*.json")} == made


def test_the_dashboards_cover_the_service_and_the_storage() -> None:
    titles = {title for _, title, _, _ in dashboards.panel_queries()}
    for wanted in (
        "Request rate by route",
        "API error ratio (5xx)",
        "Latency by route (p50, p95, p99)",
        "Points ingested per second",
        "Points rejected by reason",
        "Storage latency (p95)",
        "Storage errors by operation",
        "Series against the limit (top 20)",
        "Rate-limit refusals by tenant and limit",
        "Most parts in one partition",
        "Merges running",
        "Replication delay",
        "Read-only replicas",
        "Queries per second",
        "Request latency",
    ):
        assert wanted in titles, wanted


def test_panels_read_recorded_series_that_exist() -> None:
    recorded = {r.name for r in load_rules() if not r.is_alert}
    for file, title, expr, _ in dashboards.panel_queries():
        for name in metric_names(expr):
            if ":" in name:
                assert name in recorded, f"{file}: panel {title!r} reads unrecorded {name}"


def test_provisioning_points_at_the_dashboards_and_the_data_source() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/luminate.yaml").read_text())
    uids = {d["uid"] for d in source["datasources"]}
    for path in (GRAFANA / "dashboards").glob("*.json"):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/luminate.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_every_panel_query_parses(tmp_path: Path) -> None:
    """promtool parses each query as a rule expression (the live test evaluates them)."""
    rules = {
        "groups": [
            {
                "name": "panels",
                "rules": [
                    {"record": f"panel:query{i}:check", "expr": expr}
                    for i, (_, _, expr, _) in enumerate(dashboards.panel_queries())
                ],
            }
        ]
    }
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = run(["promtool", "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
