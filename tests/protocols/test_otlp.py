"""The OpenTelemetry Python SDK exports counters, gauges and histograms over OTLP/HTTP, in
protobuf (gzip) and in JSON, into Luminate; the stored points are what the SDK sent."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.json.http.metric_exporter import (
    OTLPMetricExporter as JsonExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as ProtobufExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from tests.protocols.conftest import Stack

pytestmark = pytest.mark.e2e

BOUNDS = (10.0, 100.0, 1000.0)
OBSERVED = (5.0, 50.0, 50.0, 500.0, 5000.0)


def export_once(exporter: MetricExporter, service: str) -> None:
    """Record one of each instrument and export it with the SDK's own reader."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": service}),
        metric_readers=[reader],
        views=[
            View(
                instrument_name="http.latency",
                aggregation=ExplicitBucketHistogramAggregation(BOUNDS),
            )
        ],
    )
    meter = provider.get_meter("checkout.module", "1.2.3")
    requests = meter.create_counter("http.requests", unit="1")
    requests.add(3, {"route": "/cart"})
    requests.add(4, {"route": "/cart"})
    requests.add(1, {"route": "/pay"})
    meter.create_gauge("queue.depth").set(42.5, {"queue": "orders"})
    meter.create_up_down_counter("sessions.active").add(-2)
    latency = meter.create_histogram("http.latency", unit="ms")
    for v in OBSERVED:
        latency.record(v, {"route": "/cart"})
    assert provider.force_flush(30_000), "the SDK's export failed"
    provider.shutdown()


def series(stack: Stack, tenant: str, selector: str) -> dict[tuple[tuple[str, str], ...], float]:
    r = httpx.get(
        f"{stack.luminate.url}/prometheus/api/v1/query",
        params={"query": selector, "time": str(time.time())},
        headers=stack.luminate.headers(tenant, "read"),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()["data"]["result"]
    return {
        tuple(
            sorted(
                (k, v)
                for k, v in row["metric"].items()
                if k in ("__name__", "route", "queue", "le")
            )
        ): float(row["value"][1])
        for row in result
    }


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_sdk_points_are_stored_as_sent(stack: Stack, encoding: str) -> None:
    tenant = f"otel-{encoding}"
    url = f"{stack.luminate.url}/v1/metrics"
    headers = {"Authorization": f"Bearer {stack.luminate.token(tenant, 'write')}"}
    exporter: MetricExporter
    if encoding == "protobuf":
        exporter = ProtobufExporter(endpoint=url, headers=headers, compression=Compression.Gzip)
    else:
        exporter = JsonExporter(endpoint=url, headers=headers)
    export_once(exporter, f"shop-{encoding}")

    counters = series(stack, tenant, "http_requests_total")
    assert counters == {
        (("__name__", "http_requests_total"), ("route", "/cart")): 7.0,
        (("__name__", "http_requests_total"), ("route", "/pay")): 1.0,
    }
    assert series(stack, tenant, "queue_depth") == {
        (("__name__", "queue_depth"), ("queue", "orders")): 42.5
    }
    assert series(stack, tenant, "sessions_active") == {(("__name__", "sessions_active"),): -2.0}
    buckets = series(stack, tenant, "http_latency_bucket")
    assert {dict(k)["le"]: v for k, v in buckets.items()} == {
        "10": 1.0,
        "100": 3.0,
        "1000": 4.0,
        "+Inf": 5.0,
    }
    assert list(series(stack, tenant, "http_latency_sum").values()) == [sum(OBSERVED)]
    assert list(series(stack, tenant, "http_latency_count").values()) == [len(OBSERVED)]
    # Resource and scope attributes arrive as dimensions under their documented names.
    r = httpx.get(
        f"{stack.luminate.url}/prometheus/api/v1/series",
        params={"match[]": "queue_depth"},
        headers=stack.luminate.headers(tenant, "read"),
    )
    labels = r.json()["data"][0]
    assert labels["service_name"] == f"shop-{encoding}"
    assert labels["otel_scope_name"] == "checkout.module"
    assert labels["otel_scope_version"] == "1.2.3"
    # Only this tenant's export is visible to it: the other encoding's tenant wrote the same
    # metric names under another service name.
    services = {s["service_name"] for s in r.json()["data"]}
    assert services == {f"shop-{encoding}"}
    # Quantiles over the stored buckets work as over Prometheus' own.
    q = series(stack, tenant, "histogram_quantile(0.5, http_latency_bucket)")
    assert list(q.values()) == [pytest.approx(10 + 90 * (2.5 - 1) / 2)]


def _request(values: list[float], name: str = "temp") -> bytes:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = name
    for i, v in enumerate(values):
        p = metric.gauge.data_points.add()
        p.time_unix_nano = time.time_ns() - (len(values) - i) * 1_000_000
        p.as_double = v
    return bytes(req.SerializeToString())


def _post(stack: Stack, tenant: str, body: bytes, media: str) -> httpx.Response:
    return httpx.post(
        f"{stack.luminate.url}/v1/metrics",
        content=body,
        headers={
            "Content-Type": media,
            "Authorization": f"Bearer {stack.luminate.token(tenant, 'write')}",
        },
    )


def test_partial_success_counts_the_rejected_points(stack: Stack) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )

    r = _post(stack, "otel-partial", _request([1.0, float("nan"), 3.0]), "application/x-protobuf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    answer = ExportMetricsServiceResponse.FromString(r.content)
    assert answer.partial_success.rejected_data_points == 1
    assert "point 1 of metric 'temp': non_finite_value" in answer.partial_success.error_message
    assert len(series(stack, "otel-partial", "count_over_time(temp[1h])")) == 1
    assert list(series(stack, "otel-partial", "count_over_time(temp[1h])").values()) == [2.0]


@pytest.mark.parametrize(
    ("body", "media", "status"),
    [
        (_request([1.0] * 20)[:-7], "application/x-protobuf", 400),
        (b'{"resourceMetrics": [', "application/json", 400),
        (b'{"resourceMetrics": 7}', "application/json", 400),
        (b"{}", "text/plain", 415),
    ],
)
def test_an_undecodable_export_stores_nothing(
    stack: Stack, body: bytes, media: str, status: int
) -> None:
    from google.rpc import status_pb2

    tenant = "otel-bad"
    r = _post(stack, tenant, body, media)
    assert r.status_code == status, r.text
    if "json" in media:
        assert r.json()["code"] == 3 and "ExportMetricsServiceRequest" in r.json()["message"]
    else:
        assert status_pb2.Status.FromString(r.content).message
    assert series(stack, tenant, 'count({__name__=~".+"})') == {}


def test_a_retried_export_is_stored_once(stack: Stack) -> None:
    """An exporter that resends the same request after a lost answer does not double the points
    (the write deduplication window covers OTLP as it covers the JSON API)."""
    body = _request([1.0, 2.0, 3.0])
    for _ in range(3):
        r = _post(stack, "otel-retry", body, "application/x-protobuf")
        assert r.status_code == 200, r.text
    assert list(series(stack, "otel-retry", "count_over_time(temp[1h])").values()) == [3.0]
    different = _request([4.0, 5.0])
    assert _post(stack, "otel-retry", different, "application/x-protobuf").status_code == 200
    assert list(series(stack, "otel-retry", "count_over_time(temp[1h])").values()) == [5.0]
