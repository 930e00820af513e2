"""The backup job's metrics, pushed to a Prometheus Pushgateway (the job is gone before any
scrape). Names and labels are a contract with the alerts: job="luminate-backup" and `backend`.

Each push replaces only the series it carries (POST), so a failure keeps the last success
timestamp, and the failure counter continues from the value the Pushgateway holds."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, pushadd_to_gateway

JOB = "luminate-backup"
PREFIX = "luminate_backup"
log = logging.getLogger("luminate.backup")


@dataclass(frozen=True)
class Outcome:
    backend: str
    succeeded: bool
    finished_at: float
    duration_s: float
    size_bytes: int


class MetricsPushError(Exception):
    pass


def failures_so_far(gateway: str, backend: str, timeout_s: float = 5.0) -> float:
    """The failure counter the Pushgateway holds for this backend (0 when it holds none)."""
    url = gateway.rstrip("/") + "/api/v1/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310  (configured URL)
            groups = json.load(answer).get("data", [])
    except (OSError, ValueError) as exc:
        raise MetricsPushError(f"Pushgateway {gateway} unreadable: {exc}") from None
    for group in groups:
        labels = group.get("labels", {})
        if labels.get("job") == JOB and labels.get("backend") == backend:
            family = group.get(f"{PREFIX}_failures_total") or {}
            for metric in family.get("metrics", []):
                try:
                    return float(metric.get("value", 0))
                except (TypeError, ValueError):
                    return 0.0
    return 0.0


def push(gateway: str, outcome: Outcome, timeout_s: float = 5.0) -> None:
    """Push the outcome of one run; MetricsPushError names the problem."""
    registry = CollectorRegistry()
    failures = Counter(
        f"{PREFIX}_failures",
        "Backup runs that failed (creation, upload or verification).",
        registry=registry,
    )
    failures.inc(failures_so_far(gateway, outcome.backend, timeout_s) + (not outcome.succeeded))
    if outcome.succeeded:
        Gauge(
            f"{PREFIX}_last_success_timestamp_seconds",
            "When the last backup that verified completed (Unix time).",
            registry=registry,
        ).set(outcome.finished_at)
        Gauge(
            f"{PREFIX}_duration_seconds",
            "How long the last successful backup took, verification included.",
            registry=registry,
        ).set(outcome.duration_s)
        Gauge(f"{PREFIX}_size_bytes", "Size of the last successful backup.", registry=registry).set(
            outcome.size_bytes
        )
    else:
        Gauge(
            f"{PREFIX}_last_failure_timestamp_seconds",
            "When the last backup run failed (Unix time).",
            registry=registry,
        ).set(outcome.finished_at)
    try:
        pushadd_to_gateway(
            gateway,
            job=JOB,
            registry=registry,
            grouping_key={"backend": outcome.backend},
            timeout=timeout_s,
        )
    except (OSError, urllib.error.URLError) as exc:
        raise MetricsPushError(f"Pushgateway {gateway} refused the push: {exc}") from None
