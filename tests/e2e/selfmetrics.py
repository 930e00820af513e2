"""Reading a served process's self-metrics (on its internal port) as samples."""

from __future__ import annotations

import httpx

from tests.e2e.server import LuminateProcess
from tests.support.selfmetrics import Samples, delta, exposition, parse, sample


def metrics_text(proc: LuminateProcess) -> str:
    return exposition(httpx.get(proc.internal_url + "/metrics", timeout=10))


def scrape(proc: LuminateProcess) -> Samples:
    return parse(metrics_text(proc))


__all__ = ["Samples", "delta", "metrics_text", "sample", "scrape"]
