"""Probes for the codes only the other protocols answer (remote_write, the Prometheus API),
whose errors are spelled in those protocols' formats: `<code>: <message>` as plain text, or
inside the Prometheus envelope's `error`."""

from __future__ import annotations

import time

import cramjam
from opentelemetry.exporter.prometheus_remote_write.gen.remote_pb2 import WriteRequest

from tests.app.probes import Probe

PUSH = "/api/v1/push"
PROM_QUERY = "/prometheus/api/v1/query"
PROM_RANGE = "/prometheus/api/v1/query_range"


def mixed_push() -> bytes:
    """A good series and one whose label name breaks the naming rule."""
    request = WriteRequest()
    now = int(time.time() * 1000)
    for labels in ((("__name__", "ok"),), (("__name__", "ok"), ("bad-key", "v"))):
        ts = request.timeseries.add()
        for name, value in labels:
            label = ts.labels.add()
            label.name, label.value = name, value
        sample = ts.samples.add()
        sample.timestamp, sample.value = now, 1.0
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


# One selector over the loaded tenant's 50,000 series at 11,000 steps: more series than
# 25,000,000 series x steps allow.
_START = int(time.time()) - 3_200
TOO_MANY = {"query": "latency_ms", "start": str(_START), "end": str(_START + 11_000), "step": "1"}
DUPLICATES = (
    'vector(1) + on() (label_replace(vector(1), "a", "x", "", "") '
    'or label_replace(vector(1), "a", "y", "", ""))'
)

PROTOCOL_PROBES: list[Probe] = [
    Probe(
        "samples_rejected",
        "POST",
        PUSH,
        400,
        "samples_rejected",
        (mixed_push,),
        extra_headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
    ),
    Probe("invalid_promql", "GET", PROM_QUERY, 400, "invalid_promql", params={"query": "sum("}),
    Probe(
        "unsupported_promql",
        "GET",
        PROM_QUERY,
        422,
        "unsupported_promql",
        params={"query": "rate(up[5m:1m])"},
    ),
    Probe(
        "promql_execution", "GET", PROM_QUERY, 422, "promql_execution", params={"query": DUPLICATES}
    ),
    Probe(
        "too_many_series",
        "GET",
        PROM_RANGE,
        422,
        "too_many_series",
        params=TOO_MANY,
        on_loaded=True,
    ),
]
