"""The systems `bench.peers` can run, by name, and whether each is installed."""

from __future__ import annotations

import shutil

from bench.peers.raw_clickhouse import RawClickHouse
from bench.peers.systems import InfluxDB, Luminate, Prometheus, VictoriaMetrics

SYSTEMS = {
    "luminate": Luminate,
    "victoriametrics": VictoriaMetrics,
    "influxdb": InfluxDB,
    "prometheus": Prometheus,
    "clickhouse": RawClickHouse,
}


def installed(name: str) -> bool:
    binary = {
        "victoriametrics": "victoria-metrics",
        "influxdb": "influxd",
        "prometheus": "prometheus",
        "clickhouse": "clickhouse-server",
    }.get(name)
    return binary is None or shutil.which(binary) is not None
