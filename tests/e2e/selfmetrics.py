"""Reading a served process's self-metrics (on its internal port) as samples."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import LuminateProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics_text(proc: LuminateProcess) -> str:
    response = httpx.get(proc.internal_url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def scrape(proc: LuminateProcess) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(metrics_text(proc)):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)
