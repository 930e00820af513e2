"""The monitoring artefacts under deployments/ as data: alert and recording rules, the scrape
config, the external exporters' metric list, and the metric names any PromQL expression reads."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deployments" / "prometheus"
ALERTS = PROMETHEUS / "alerts" / "luminate-alerts.yaml"
RECORDING = PROMETHEUS / "rules" / "luminate-recording.yaml"
CONFIG = PROMETHEUS / "prometheus-config.yaml"
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yaml"))
EXTERNAL = PROMETHEUS / "external-metrics.yaml"
ALERTMANAGER = REPO / "deployments" / "alertmanager" / "alertmanager.yaml"
TEMPLATES = REPO / "deployments" / "alertmanager" / "templates"
RUNBOOKS = REPO / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/luminate-metrics/luminate/blob/main/docs/runbooks/"
REQUIRED_LABELS = ("severity", "component")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
SEVERITIES = ("critical", "warning")


@dataclass(frozen=True)
class Rule:
    file: str  # repository-relative
    group: str
    name: str  # alert or record name
    expr: str
    doc: dict[str, Any]

    @property
    def is_alert(self) -> bool:
        return "alert" in self.doc


def load_rules(*files: Path) -> list[Rule]:
    out = []
    for file in files or (RECORDING, ALERTS):
        doc = yaml.safe_load(file.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                out.append(
                    Rule(
                        str(file.relative_to(REPO)) if file.is_relative_to(REPO) else str(file),
                        group["name"],
                        str(name),
                        str(rule["expr"]),
                        rule,
                    )
                )
    return out


def alerts() -> list[Rule]:
    return [r for r in load_rules() if r.is_alert]


def run(argv: list[str], timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)


# -- metric names in PromQL ----------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "inf", "nan", "atan2"}
_NUMBER_UNIT = re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]?\b", re.IGNORECASE)


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded series) names an expression selects: identifiers that are not
    functions, keywords, label names or literals."""
    text = _STRING.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER_UNIT.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(0)
        after = text[match.end() :].lstrip()
        if after.startswith("(") or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def external_metrics(path: Path = EXTERNAL) -> dict[str, str]:
    """Metric name -> the exporter that provides it (not Luminate)."""
    doc = yaml.safe_load(path.read_text())
    return {
        name: exporter for exporter, entry in doc["exporters"].items() for name in entry["metrics"]
    }


def exposed_names(families: list[tuple[str, str]]) -> set[str]:
    """Sample names a family of each type produces (a histogram's _bucket, _count, _sum)."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "summary": ("", "_count", "_sum"),
        "gauge": ("",),
        "unknown": ("",),
        "info": ("_info",),
    }
    return {name + s for name, kind in families for s in suffixes.get(kind, ("",))}
