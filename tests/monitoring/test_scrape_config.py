"""The production scrape config: promtool accepts it (with Kubernetes discovery, which Debian's
Prometheus build lacks, swapped for file discovery), every component is scraped, and the rule
files it names are the ones in the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.monitoring.artefacts import ALERTMANAGER, CONFIG, PROMETHEUS, REPO, TEMPLATES, run

# Debian's prometheus package is built without Kubernetes service discovery, so promtool there
# rejects `kubernetes_sd_configs`; the blocks are checked here instead.
SD_ROLES = {"pod", "service", "endpoints", "endpointslice", "node", "ingress"}
SD_KEYS = {"role", "namespaces"}


def checkable(tmp_path: Path, doc: dict[str, Any] | None = None) -> Path:
    doc = doc or yaml.safe_load(CONFIG.read_text())
    doc["rule_files"] = [str(PROMETHEUS / f) for f in doc["rule_files"]]
    token = tmp_path / "token"
    token.write_text("x")
    ca = tmp_path / "ca.crt"
    ca.write_text("")
    for job in doc["scrape_configs"]:
        job.pop("kubernetes_sd_configs", None)
        job["file_sd_configs"] = [{"files": [str(tmp_path / f"{job['job_name']}.json")]}]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
            job["tls_config"]["ca_file"] = str(ca)
    path = tmp_path / "prometheus.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    result = run(["promtool", "check", "config", str(checkable(tmp_path))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_kubernetes_discovery_blocks_are_well_formed() -> None:
    doc = yaml.safe_load(CONFIG.read_text())
    for job in doc["scrape_configs"]:
        blocks = job.get("kubernetes_sd_configs")
        assert blocks, f"{job['job_name']}: not discovered through Kubernetes"
        for block in blocks:
            assert set(block) <= SD_KEYS, (job["job_name"], block)
            assert block["role"] in SD_ROLES, (job["job_name"], block)


def test_every_component_is_scraped() -> None:
    jobs = {j["job_name"] for j in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    assert {
        "luminate",
        "clickhouse",
        "zookeeper",
        "kube-state-metrics",
        "kubelet",
        "cadvisor",
        "node-exporter",
        "pushgateway",
        "alertmanager",
    } <= jobs


def test_the_pushed_backup_job_label_is_kept() -> None:
    jobs = {j["job_name"]: j for j in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    assert jobs["pushgateway"]["honor_labels"] is True


def test_rule_files_are_the_repositorys() -> None:
    doc = yaml.safe_load(CONFIG.read_text())
    named = {(PROMETHEUS / f).resolve() for f in doc["rule_files"]}
    present = {p.resolve() for p in (PROMETHEUS / "rules").glob("*.yaml")}
    present |= {p.resolve() for p in (PROMETHEUS / "alerts").glob("*.yaml")}
    assert named == present


# ---------------------------------------------------------------- bad input


def test_a_bad_relabel_regex_is_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load(CONFIG.read_text())
    doc["scrape_configs"][0]["relabel_configs"][0]["regex"] = "lumin(ate"
    result = run(["promtool", "check", "config", str(checkable(tmp_path, doc))])
    assert result.returncode != 0
    assert "lumin(ate" in result.stdout + result.stderr or "regex" in result.stdout + result.stderr


def test_the_manifests_carry_the_monitoring_config_unchanged() -> None:
    """kustomize reads files below its own folder: the Alertmanager config is copied there."""
    copies = REPO / "deployments" / "kubernetes" / "production" / "alertmanager"
    assert (copies / "alertmanager.yaml").read_text() == ALERTMANAGER.read_text(), (
        "cp deployments/alertmanager/alertmanager.yaml " + str(copies.relative_to(REPO))
    )
    assert (copies / "luminate.tmpl").read_text() == (TEMPLATES / "luminate.tmpl").read_text()


def test_zookeeper_exports_metrics_on_its_metrics_port() -> None:
    production = REPO / "deployments" / "kubernetes" / "production"
    cfg = dict(
        line.split("=", 1)
        for line in (production / "zookeeper" / "zoo.cfg").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert cfg["metricsProvider.className"].endswith("PrometheusMetricsProvider")
    sts = yaml.safe_load((production / "zookeeper-statefulset.yaml").read_text().split("\n---")[0])
    ports = {
        p["name"]: p["containerPort"]
        for p in sts["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert ports["metrics"] == int(cfg["metricsProvider.httpPort"])
