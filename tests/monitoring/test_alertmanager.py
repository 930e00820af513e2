"""Alertmanager: amtool accepts the config, each severity and component reaches the right
receivers, the notification templates render, and secrets are only ever files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.monitoring.artefacts import ALERTMANAGER, TEMPLATES, alerts, run

# (labels of an alert) -> receivers, in order, as the escalation policy says.
ROUTES = [
    ({"severity": "critical", "component": "luminate"}, "on-call"),
    ({"severity": "critical", "component": "storage"}, "on-call"),
    ({"severity": "critical", "component": "clickhouse"}, "database-team,on-call"),
    ({"severity": "critical", "component": "zookeeper"}, "database-team,on-call"),
    ({"severity": "warning", "component": "luminate"}, "team-chat"),
    ({"severity": "warning", "component": "clickhouse"}, "team-chat"),
    ({"severity": "warning", "component": "backup"}, "team-chat"),
    ({"severity": "warning", "component": "kubernetes", "tenant_id": "acme"}, "team-chat"),
]


def routes_test(config: Path, labels: dict[str, str], expect: str | None = None) -> str:
    argv = ["amtool", "config", "routes", "test", f"--config.file={config}"]
    if expect is not None:
        argv.append(f"--verify.receivers={expect}")
    result = run([*argv, *(f"{k}={v}" for k, v in labels.items())])
    assert result.returncode == 0 or expect is not None, result.stderr
    return result.stdout.strip()


def checkable(tmp_path: Path, doc: dict[str, object] | None = None) -> Path:
    """A copy whose templates point into the repository (the Secret paths stay as they are)."""
    doc = doc or yaml.safe_load(ALERTMANAGER.read_text())
    doc["templates"] = [str(TEMPLATES / "*.tmpl")]
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_amtool_accepts_the_config(tmp_path: Path) -> None:
    result = run(["amtool", "check-config", str(checkable(tmp_path))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(("labels", "receivers"), ROUTES, ids=str)
def test_each_severity_and_component_reaches_its_receivers(
    tmp_path: Path, labels: dict[str, str], receivers: str
) -> None:
    assert routes_test(checkable(tmp_path), labels) == receivers


def test_every_alert_reaches_a_receiver_by_its_severity(tmp_path: Path) -> None:
    config = checkable(tmp_path)
    for alert in alerts():
        labels = {"alertname": alert.name, **alert.doc["labels"]}
        got = routes_test(config, labels)
        want = "on-call" if labels["severity"] == "critical" else "team-chat"
        assert want in got.split(","), (alert.name, got)


def test_templates_render() -> None:
    for name in ("luminate.title", "luminate.text"):
        result = run(
            [
                "amtool",
                "template",
                "render",
                f"--template.glob={TEMPLATES / '*.tmpl'}",
                f'--template.text={{{{ template "{name}" . }}}}',
            ]
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip(), name


def test_secrets_are_files_not_values() -> None:
    text = ALERTMANAGER.read_text()
    doc = yaml.safe_load(text)
    for receiver in doc["receivers"]:
        for kind, configs in receiver.items():
            if kind == "name":
                continue
            for config in configs:
                inline = {"routing_key", "service_key", "api_url", "url"} & set(config)
                assert not inline, f"{ALERTMANAGER}: {receiver['name']} has inline {inline}"
                assert any(k.endswith("_file") for k in config), receiver["name"]


# ---------------------------------------------------------------- bad input


def test_an_unknown_receiver_fails_naming_it(tmp_path: Path) -> None:
    doc = yaml.safe_load(ALERTMANAGER.read_text())
    doc["route"]["routes"][1]["receiver"] = "pager-typo"
    result = run(["amtool", "check-config", str(checkable(tmp_path, doc))])
    assert result.returncode != 0
    assert "pager-typo" in result.stdout + result.stderr


def test_a_wrong_route_expectation_fails(tmp_path: Path) -> None:
    """Negative control: amtool's verification does fail when the receivers differ."""
    result = run(
        [
            "amtool",
            "config",
            "routes",
            "test",
            f"--config.file={checkable(tmp_path)}",
            "--verify.receivers=team-chat",
            "severity=critical",
            "component=clickhouse",
        ]
    )
    assert result.returncode != 0
