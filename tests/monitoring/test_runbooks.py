"""Runbook lint: every alert has its page, and a missing one is reported by name."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.monitoring import runbooks
from tests.monitoring.artefacts import RUNBOOKS, Rule, alerts


def test_every_alert_has_a_complete_runbook() -> None:
    assert runbooks.check(alerts()) == []


def test_the_seeds_runbook_mistakes_are_gone() -> None:
    text = (RUNBOOKS / "LuminateHighErrorRate.md").read_text()
    assert 'rate(luminate_http_requests_total{status=~"5.."}[5m]) by (status, path)' not in text
    assert "sum by (route, status)" in text


# ---------------------------------------------------------------- bad input


def test_a_missing_runbook_is_named(tmp_path: Path) -> None:
    copy = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, copy)
    (copy / "ClickHouseTooManyParts.md").unlink()
    problems = runbooks.check(alerts(), copy)
    assert f"ClickHouseTooManyParts: no runbook {copy / 'ClickHouseTooManyParts.md'}" in problems
    # The pages that link to it are named too.
    assert "LuminateHighWriteLatency.md: links to missing ClickHouseTooManyParts.md" in problems
    assert all("ClickHouseTooManyParts" in p for p in problems), problems


def test_a_wrong_runbook_url_and_a_missing_section_are_named(tmp_path: Path) -> None:
    copy = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, copy)
    page = copy / "LuminatePodRestarts.md"
    page.write_text(page.read_text().replace("## Escalation", "## Who to call"))
    alert = next(a for a in alerts() if a.name == "LuminateTargetDown")
    doc = {**alert.doc, "annotations": {**alert.doc["annotations"], "runbook_url": "https://x/y"}}
    bent = Rule(alert.file, alert.group, alert.name, alert.expr, doc)
    others = [a for a in alerts() if a.name != "LuminateTargetDown"]
    problems = runbooks.check([*others, bent], copy)
    assert problems == [
        "LuminatePodRestarts.md: no '## Escalation' section",
        "deployments/prometheus/alerts/luminate-alerts.yaml: LuminateTargetDown runbook_url "
        "'https://x/y' is not LuminateTargetDown.md",
    ]
