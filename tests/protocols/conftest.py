"""One Luminate process and one real Prometheus (Debian's) that scrapes itself every second and
remote-writes everything into Luminate as tenant `prom`; shared by the protocol tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.net import free_port
from testbed.prometheus import Prometheus
from tests.e2e.server import LuminateProcess

TENANT = "prom"
# Seconds of scraped data the comparisons need: windows up to 30 s, offsets of 10 s.
WARM_UP_S = 45


@dataclass
class Stack:
    luminate: LuminateProcess
    prometheus: Prometheus

    def caught_up(self, at_s: float) -> bool:
        """True once Prometheus has remote-written every sample up to `at_s`."""
        rows = self.prometheus.query(
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
        )
        return bool(rows) and float(rows[0]["value"][1]) >= at_s


def prometheus_config(prom_port: int, luminate: LuminateProcess, token: str) -> str:
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{prom_port}"]
remote_write:
  - url: {luminate.url}/api/v1/push
    authorization:
      credentials: {token}
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 5000
"""


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base: Path = tmp_path_factory.mktemp("protocols")
    luminate = LuminateProcess(data_dir=base / "data", log_path=base / "luminate.log").start()
    port = free_port()
    config = base / "prometheus.yml"
    config.write_text(prometheus_config(port, luminate, luminate.token(TENANT, "write")))
    prometheus = Prometheus(base / "prometheus", port=port, config=config)
    try:
        prometheus.start()
        yield Stack(luminate, prometheus)
    finally:
        prometheus.stop()
        luminate.kill()


@pytest.fixture(scope="package")
def warm(stack: Stack) -> Stack:
    """The stack once Prometheus has scraped (and sent) WARM_UP_S seconds of samples."""
    time.sleep(WARM_UP_S)
    return stack
