"""Alert and recording rules: promtool accepts them, every alert is complete and has a unit test
that shows it firing and staying silent, and promtool's unit tests pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.monitoring.artefacts import (
    ALERTS,
    RECORDING,
    REQUIRED_ANNOTATIONS,
    REQUIRED_LABELS,
    SEVERITIES,
    UNIT_TESTS,
    Rule,
    alerts,
    load_rules,
    run,
)


def test_promtool_accepts_the_rules() -> None:
    result = run(["promtool", "check", "rules", str(RECORDING), str(ALERTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS
    result = run(["promtool", "test", "rules", *map(str, UNIT_TESTS)], timeout_s=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for file in UNIT_TESTS:
        for test in yaml.safe_load(file.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {a.name for a in alerts()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown silent"
    assert (firing | silent) - names == set(), "unit tests of alerts that do not exist"


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a.name)
def test_every_alert_carries_labels_and_annotations(alert: Rule) -> None:
    labels = alert.doc.get("labels", {})
    annotations = alert.doc.get("annotations", {})
    missing = [k for k in REQUIRED_LABELS if not labels.get(k)]
    missing += [k for k in REQUIRED_ANNOTATIONS if not annotations.get(k)]
    assert not missing, f"{alert.file}: {alert.name} lacks {', '.join(missing)}"
    assert labels["severity"] in SEVERITIES, f"{alert.file}: {alert.name}"


def test_the_seed_alerts_keep_their_names() -> None:
    names = {a.name for a in alerts()}
    seed = {
        "LuminateHighErrorRate",
        "LuminateHighWriteLatency",
        "LuminateHighQueryLatency",
        "LuminateHighRateLimitRejections",
        "LuminateStorageUnhealthy",
        "ClickHouseHighCPU",
        "ClickHouseDiskSpaceLow",
        "LuminatePodRestarts",
    }
    assert seed <= names, seed - names


def test_alerts_avoid_the_seeds_mistakes() -> None:
    by_name = {a.name: a.expr for a in alerts()}
    recorded = {r.name: r.expr for r in load_rules() if not r.is_alert}
    # A ratio of sums, not a per-second rate of 5xx.
    assert "ratio" in by_name["LuminateHighErrorRate"]
    assert "/" in recorded["luminate:http_errors:ratio_rate5m"]
    assert "luminate_storage_up" in by_name["LuminateStorageUnhealthy"]
    assert "process_cpu_seconds_total" not in by_name["ClickHouseHighCPU"]
    assert "increase(" in by_name["LuminatePodRestarts"]


# ---------------------------------------------------------------- bad input


def test_a_broken_rules_file_is_refused_naming_file_and_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken-alerts.yaml"
    broken.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "g",
                        "rules": [{"alert": "BrokenAlert", "expr": "sum(rate(x[5m]) by (le"}],
                    }
                ]
            }
        )
    )
    result = run(["promtool", "check", "rules", str(broken)])
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "broken-alerts.yaml" in out
    assert "BrokenAlert" in out or "parse error" in out


def test_a_unit_test_that_expects_the_wrong_thing_fails(tmp_path: Path) -> None:
    """Negative control: the unit tests can fail (an alert expected where none fires)."""
    doc = {
        "rule_files": [str(RECORDING), str(ALERTS)],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "30s",
                "input_series": [
                    {
                        "series": 'luminate_storage_up{job="luminate", instance="a"}',
                        "values": "1x20",
                    }
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "LuminateStorageUnhealthy",
                        "exp_alerts": [{"exp_labels": {"instance": "a"}}],
                    }
                ],
            }
        ],
    }
    file = tmp_path / "wrong.test.yaml"
    file.write_text(yaml.safe_dump(doc))
    result = run(["promtool", "test", "rules", str(file)])
    assert result.returncode != 0
    assert "LuminateStorageUnhealthy" in result.stdout + result.stderr
