"""OTLP/HTTP metrics (`ExportMetricsServiceRequest`, protobuf or JSON) decoded into validated
points, the way Prometheus-compatible stores map OpenTelemetry metrics (docs/integrations.md):

- names: every character outside `[a-zA-Z0-9_]` becomes `_` (`http.server.duration` ->
  `http_server_duration`), a leading digit gets a `_` in front; monotonic sums get `_total`;
- dimensions: data point attributes, resource attributes and scope attributes (the latter as
  `otel_scope_<key>`, with `otel_scope_name`/`otel_scope_version`), keys sanitized the same way,
  values as text; a data point attribute wins over a resource attribute of the same name;
- gauges and non-monotonic sums: one point; monotonic cumulative sums: a counter; delta sums:
  one point per interval with its delta (sum them with `sum_over_time`);
- histograms: `_bucket{le=...}` cumulative counts (`le="+Inf"` is the count), `_sum`, `_count`;
  exponential histograms the same, at the exponential buckets' upper bounds;
- summaries: `{quantile=...}` points, `_sum`, `_count`;
- a data point flagged "no recorded value" is skipped, as Prometheus skips stale markers."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    DataPointFlags,
    Metric,
)

from luminate.ingest.validate import PointValidator
from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.points import TenantPoints, Validated

_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_NO_VALUE = DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def sanitize(name: str) -> str:
    out = _INVALID.sub("_", name)
    return "_" + out if out[:1].isdigit() else out


def bound_text(bound: float) -> str:
    """An `le` or `quantile` label value as Prometheus writes it."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    return str(np.format_float_positional(bound, trim="-"))


def value_text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind is None:
        return ""
    return json.dumps(json_format.MessageToDict(value), separators=(",", ":"), sort_keys=True)


def attributes(kvs: list[KeyValue], prefix: str = "") -> dict[str, str]:
    out = {}
    for kv in kvs:
        text = value_text(kv.value)
        if text:
            out[prefix + sanitize(kv.key)] = text
    return out


@dataclass(slots=True)
class _Point:
    name: str
    timestamp: int
    value: float
    dimensions: Mapping[str, str]


def decode_request(body: bytes, protobuf: bool) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    try:
        if protobuf:
            request.ParseFromString(body)
        else:
            json_format.Parse(body, request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        kind = "protobuf" if protobuf else "JSON"
        raise BadRequest(
            f"body is not an OTLP ExportMetricsServiceRequest in {kind}: {str(exc)[:300]}",
            code=ErrorCode.INVALID_BODY,
        ) from None
    return request


def _ms(nanos: int) -> int:
    return nanos // 1_000_000


def _number(point: object) -> float:
    return float(point.as_double if point.WhichOneof("value") == "as_double" else point.as_int)  # type: ignore[attr-defined]


def _exponential_bounds(point: object) -> Iterator[tuple[float, int]]:
    """(upper bound, count) of every exponential bucket, lowest bound first."""
    base = 2.0 ** (2.0**-point.scale)  # type: ignore[attr-defined]
    negative = point.negative  # type: ignore[attr-defined]
    for i in range(len(negative.bucket_counts) - 1, -1, -1):
        yield -(base ** (negative.offset + i)), negative.bucket_counts[i]
    yield point.zero_threshold, point.zero_count  # type: ignore[attr-defined]
    positive = point.positive  # type: ignore[attr-defined]
    for i, count in enumerate(positive.bucket_counts):
        yield base ** (positive.offset + i + 1), count


def points_of(metric: Metric, base: Mapping[str, str]) -> Iterator[_Point]:
    """Every point one metric maps to (see the module docstring)."""
    kind = metric.WhichOneof("data")
    if kind in {"gauge", "sum"}:
        return _numbers(metric, base)
    if kind in {"histogram", "exponential_histogram"}:
        return _histograms(metric, base)
    if kind == "summary":
        return _summaries(metric, base)
    return iter(())


def _numbers(metric: Metric, base: Mapping[str, str]) -> Iterator[_Point]:
    name = sanitize(metric.name)
    data = metric.gauge if metric.HasField("gauge") else metric.sum
    counter = metric.HasField("sum") and metric.sum.is_monotonic
    if counter and metric.sum.aggregation_temporality == CUMULATIVE:
        name = name if name.endswith("_total") else name + "_total"
    for p in data.data_points:
        if not p.flags & _NO_VALUE:
            dims = {**base, **attributes(list(p.attributes))}
            yield _Point(name, _ms(p.time_unix_nano), _number(p), dims)


def _histograms(metric: Metric, base: Mapping[str, str]) -> Iterator[_Point]:
    name = sanitize(metric.name)
    explicit = metric.HasField("histogram")
    data = metric.histogram if explicit else metric.exponential_histogram
    for p in data.data_points:
        if p.flags & _NO_VALUE:
            continue
        ts = _ms(p.time_unix_nano)
        dims = {**base, **attributes(list(p.attributes))}
        if explicit:
            bounds = [*p.explicit_bounds, math.inf]
            buckets = list(zip(bounds, p.bucket_counts, strict=False))
        else:
            buckets = [*_exponential_bounds(p), (math.inf, 0)]
        total = 0
        for bound, count in buckets:
            total += count
            cumulative = p.count if math.isinf(bound) else total
            yield _Point(f"{name}_bucket", ts, float(cumulative), {**dims, "le": bound_text(bound)})
        if p.HasField("sum"):
            yield _Point(f"{name}_sum", ts, p.sum, dims)
        yield _Point(f"{name}_count", ts, float(p.count), dims)


def _summaries(metric: Metric, base: Mapping[str, str]) -> Iterator[_Point]:
    name = sanitize(metric.name)
    for p in metric.summary.data_points:
        if p.flags & _NO_VALUE:
            continue
        ts = _ms(p.time_unix_nano)
        dims = {**base, **attributes(list(p.attributes))}
        for q in p.quantile_values:
            yield _Point(name, ts, q.value, {**dims, "quantile": bound_text(q.quantile)})
        yield _Point(f"{name}_sum", ts, p.sum, dims)
        yield _Point(f"{name}_count", ts, float(p.count), dims)


class OtlpDecoder:
    """Decodes OTLP requests with the shared validator (and its caches)."""

    def __init__(self, validator: PointValidator) -> None:
        self.validator = validator

    def decode(self, body: bytes, protobuf: bool, tenant: str, now_ms: int) -> Validated:
        request = decode_request(body, protobuf)
        points: list[_Point] = []
        for rm in request.resource_metrics:
            resource = attributes(list(rm.resource.attributes))
            for sm in rm.scope_metrics:
                scope = {**resource, **attributes(list(sm.scope.attributes), "otel_scope_")}
                if sm.scope.name:
                    scope["otel_scope_name"] = sm.scope.name
                if sm.scope.version:
                    scope["otel_scope_version"] = sm.scope.version
                for metric in sm.metrics:
                    points.extend(points_of(metric, scope))
        self.validator.check_count(len(points))
        out = Validated(TenantPoints(tenant), indices=[])
        for i, p in enumerate(points):
            self.validator.check(out, i, p, now_ms)
        return out


def response(rejected: int, message: str, protobuf: bool) -> tuple[bytes, str]:
    """The export answer, with `partial_success` when points were rejected."""
    answer = ExportMetricsServiceResponse()
    if rejected:
        answer.partial_success.CopyFrom(
            ExportMetricsPartialSuccess(rejected_data_points=rejected, error_message=message)
        )
    if protobuf:
        return answer.SerializeToString(), "application/x-protobuf"
    return json_format.MessageToJson(answer, indent=None).encode(), "application/json"
