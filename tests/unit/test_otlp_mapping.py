"""How OTLP metrics become points (docs/integrations.md), for the kinds the SDK test does not
send: delta sums, exponential histograms, summaries, the no-value flag, attribute precedence."""

from __future__ import annotations

import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from luminate.http.codec.otlp import OtlpDecoder, sanitize
from luminate.ingest.validate import PointValidator

NOW_NS = time.time_ns()


def decode(
    *metrics: Metric, resource: dict[str, str] | None = None
) -> list[tuple[str, float, dict[str, str]]]:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (resource or {}).items():
        kv = rm.resource.attributes.add()
        kv.key, kv.value.string_value = k, v
    sm = rm.scope_metrics.add()
    sm.metrics.extend(metrics)
    validator = PointValidator(max_age_ms=86_400_000, max_future_ms=3_600_000, max_points=10_000)
    out = OtlpDecoder(validator).decode(req.SerializeToString(), True, "t", NOW_NS // 1_000_000)
    p = out.points
    assert out.rejected_count == 0, out.rejected
    return [
        (p.names[i], p.values[i], dict(zip(p.keys[i], p.dim_values[i], strict=True)))
        for i in range(len(p))
    ]


def test_names_are_sanitized() -> None:
    assert sanitize("http.server.duration") == "http_server_duration"
    assert sanitize("2xx-count") == "_2xx_count"


def test_delta_sums_keep_their_name_and_values() -> None:
    m = Metric(name="bytes.sent")
    m.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    m.sum.is_monotonic = True
    p = m.sum.data_points.add()
    p.time_unix_nano, p.as_int = NOW_NS, 512
    assert decode(m) == [("bytes_sent", 512.0, {})]


def test_cumulative_counters_get_total_and_no_value_points_are_skipped() -> None:
    m = Metric(name="requests")
    m.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    m.sum.is_monotonic = True
    for v, flags in ((3.0, 0), (4.0, 1)):
        p = m.sum.data_points.add()
        p.time_unix_nano, p.as_double, p.flags = NOW_NS, v, flags
    assert decode(m) == [("requests_total", 3.0, {})]


def test_exponential_histograms_become_cumulative_buckets() -> None:
    m = Metric(name="latency")
    p = m.exponential_histogram.data_points.add()
    p.time_unix_nano, p.scale, p.count, p.sum, p.zero_count = NOW_NS, 0, 6, 20.0, 1
    p.positive.offset = 1  # buckets (2, 4] and (4, 8]
    p.positive.bucket_counts.extend([2, 3])
    buckets = [(d["le"], v) for n, v, d in decode(m) if n == "latency_bucket"]
    assert buckets == [("0", 1.0), ("4", 3.0), ("8", 6.0), ("+Inf", 6.0)]
    assert [(n, v) for n, v, _ in decode(m) if n != "latency_bucket"] == [
        ("latency_sum", 20.0),
        ("latency_count", 6.0),
    ]


def test_summaries_and_attribute_precedence() -> None:
    m = Metric(name="rpc.duration")
    p = m.summary.data_points.add()
    p.time_unix_nano, p.count, p.sum = NOW_NS, 10, 55.0
    q = p.quantile_values.add()
    q.quantile, q.value = 0.99, 9.5
    a = p.attributes.add()
    a.key, a.value.string_value = "service.name", "from-point"
    points = decode(m, resource={"service.name": "from-resource", "host.name": "h1"})
    assert points[0] == (
        "rpc_duration",
        9.5,
        {"service_name": "from-point", "host_name": "h1", "quantile": "0.99"},
    )
    assert [n for n, _, _ in points] == ["rpc_duration", "rpc_duration_sum", "rpc_duration_count"]
