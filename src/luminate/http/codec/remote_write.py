"""Prometheus remote_write 1.0 bodies: a snappy block holding a protobuf `WriteRequest`, decoded
into validated points under the same rules as JSON writes.

Every sample is one point: the label `__name__` is its metric name, every other label a
dimension. A sample whose value is Prometheus' stale marker (one NaN bit pattern) says that its
series ended; it is accepted and not stored (see docs/integrations.md). Point indices in errors
count samples in request order across all series."""

from __future__ import annotations

import bisect
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import cramjam
from google.protobuf.message import DecodeError
from opentelemetry.exporter.prometheus_remote_write.gen.remote_pb2 import WriteRequest

from luminate.ingest.validate import PointValidator
from luminate.model.errors import BadRequest, ErrorCode, PayloadTooLarge
from luminate.model.names import MAX_NAME
from luminate.model.points import PointErrorCode, TenantPoints, Validated

NAME_LABEL = "__name__"
# Prometheus' staleness marker: a NaN with this exact bit pattern (value.StaleNaN).
STALE_NAN_BITS = 0x7FF0000000000002
_F64 = struct.Struct("<d")
_U64 = struct.Struct("<Q")


def is_stale_marker(value: float) -> bool:
    return value != value and _U64.unpack(_F64.pack(value))[0] == STALE_NAN_BITS  # noqa: PLR0124


@dataclass(slots=True)
class _Sample:
    name: str
    timestamp: int
    value: float
    dimensions: Mapping[str, str]


@dataclass
class PushDecoded:
    """A request's points, and how many stale markers it carried (accepted, not stored)."""

    checked: Validated
    stale: int
    samples: int
    request: WriteRequest
    # Index of the first sample of each series, in request order.
    starts: list[int]

    def first_error(self) -> str | None:
        """The first refused sample, named by its series' labels, as remote_write senders log
        it; None when none was refused."""
        if not self.checked.rejected:
            return None
        first = self.checked.rejected[0]
        ts = self.request.timeseries[bisect.bisect_right(self.starts, first.index) - 1]
        series = _series_text({label.name: label.value for label in ts.labels})
        return (
            f"{self.checked.rejected_count} of {self.samples} samples rejected; first: sample "
            f"{first.index} of series {series}: {first.error.code.value}: {first.error.message}"
        )


def decompress(body: bytes, limit: int, setting: str) -> bytes:
    """The snappy block's content, refused before decompressing when its declared size is over
    `limit` (a decompression bomb costs nothing)."""
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except cramjam.DecompressionError as exc:
        raise _corrupt(exc) from None
    if size > limit:
        raise PayloadTooLarge(
            f"decompressed body of {size} bytes exceeds {limit} bytes ({setting})",
            details={"limit_bytes": limit, "setting": setting},
        )
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise _corrupt(exc) from None


def _corrupt(exc: Exception) -> BadRequest:
    return BadRequest(
        f"body is not a snappy block (remote_write needs Content-Encoding: snappy, block "
        f"format): {exc}",
        code=ErrorCode.INVALID_COMPRESSED_BODY,
    )


def parse(raw: bytes) -> WriteRequest:
    try:
        return WriteRequest.FromString(raw)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise BadRequest(
            f"body is not a remote_write WriteRequest protobuf: {exc}", code=ErrorCode.INVALID_BODY
        ) from None


def _series_text(labels: Mapping[str, str]) -> str:
    inner = ",".join(f"{k}={v[:64]!r}" for k, v in labels.items())
    return ("{" + inner + "}")[:512]


class PushDecoder:
    """Decodes remote_write requests with the shared validator (and its caches)."""

    def __init__(self, validator: PointValidator) -> None:
        self.validator = validator

    def decode(self, raw: bytes, tenant: str, now_ms: int) -> PushDecoded:
        request = parse(raw)
        samples = sum(len(ts.samples) for ts in request.timeseries)
        self.validator.check_count(samples)
        # Sample i of the request, or None for a stale marker; series problems by sample.
        points: list[_Sample | None] = []
        problems: dict[int, tuple[str, tuple[PointErrorCode, str]]] = {}
        starts: list[int] = []
        for ts in request.timeseries:
            starts.append(len(points))
            name, dims, problem = _labels(ts.labels)
            for sample in ts.samples:
                value = sample.value
                if problem is not None:
                    problems[len(points)] = (name, problem)
                if is_stale_marker(value):
                    points.append(None)
                else:
                    points.append(_Sample(name, sample.timestamp, value, dims))
        out = Validated(TenantPoints(tenant))
        stale = sum(p is None for p in points)
        good = [p for p in points if p is not None]
        finite = all(math.isfinite(p.value) for p in good)
        if not problems and finite and self.validator.all_valid(good, now_ms):
            # Fast path: every rule holds (all_valid judges all but finiteness, which JSON
            # cannot spell, from the validator's caches).
            if stale:
                out.indices = [i for i, p in enumerate(points) if p is not None]
            _append_all(out.points, good)
            return PushDecoded(out, stale, samples, request, starts)
        out.indices = []
        for i, p in enumerate(points):
            if i in problems:
                name, (code, message) = problems[i]
                out.reject(i, name[:MAX_NAME] or None, code, message)
            elif p is not None:
                self.validator.check(out, i, p, now_ms)
        return PushDecoded(out, stale, samples, request, starts)


def _append_all(columns: TenantPoints, samples: list[_Sample]) -> None:
    columns.names.extend([p.name for p in samples])
    columns.timestamps.extend([p.timestamp for p in samples])
    columns.values.extend([p.value for p in samples])
    columns.keys.extend([list(p.dimensions) for p in samples])
    columns.dim_values.extend([list(p.dimensions.values()) for p in samples])


def _labels(labels: object) -> tuple[str, dict[str, str], tuple[PointErrorCode, str] | None]:
    """Metric name, dimensions, and what makes the series unacceptable (None if nothing the
    point rules do not check themselves)."""
    name = ""
    dims: dict[str, str] = {}
    seen: set[str] = set()
    problem: tuple[PointErrorCode, str] | None = None
    for label in labels:  # type: ignore[attr-defined]
        key, value = label.name, label.value
        if key in seen and problem is None:
            problem = (
                PointErrorCode.INVALID_DIMENSION_KEY,
                f"label {key[:128]!r} appears more than once in the series",
            )
        seen.add(key)
        if key == NAME_LABEL:
            name = value
        else:
            dims[key] = value
    if not name and problem is None:
        problem = (PointErrorCode.INVALID_METRIC_NAME, "series has no __name__ label")
    return name, dims, problem
