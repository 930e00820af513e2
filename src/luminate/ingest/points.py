"""Decoding and validating a write body, point by point.

The fast path decodes the whole body into constrained structs in one C call (types, lengths,
dimension count) and then checks, in one cheap pass, what msgspec cannot express: names and
keys against caches of names already proven valid, and the time window. When either step finds
a problem, the slow path checks each point on its own with every rule spelled out, so a bad
point is reported by index and code while its neighbours are still accepted. Both paths apply
the same rules (a property test holds them together)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

import msgspec

from luminate.errors import BadRequest, ErrorCode
from luminate.storage.store import TenantPoints
from luminate.timestamps import parse_time

NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_NAME = 256
MAX_KEY = 128
MAX_VALUE = 256
MAX_DIMENSIONS = 20
MAX_REPORTED_ERRORS = 1000


class PointErrorCode(StrEnum):
    """Why one point of a write was rejected (per-point `error.code`)."""

    INVALID_METRIC_NAME = "invalid_metric_name"
    INVALID_DIMENSION_KEY = "invalid_dimension_key"
    INVALID_DIMENSION_VALUE = "invalid_dimension_value"
    TOO_MANY_DIMENSIONS = "too_many_dimensions"
    NON_FINITE_VALUE = "non_finite_value"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    INVALID_POINT = "invalid_point"
    SERIES_LIMIT_EXCEEDED = "series_limit_exceeded"
    METRIC_SERIES_LIMIT_EXCEEDED = "metric_series_limit_exceeded"


DimensionValue = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_VALUE)]
Dimensions = Annotated[dict[str, DimensionValue], msgspec.Meta(max_length=MAX_DIMENSIONS)]


class FastMetric(msgspec.Struct, forbid_unknown_fields=True):
    """The shape of a valid point, as far as msgspec can check it while decoding."""

    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
    timestamp: int | str
    value: float
    dimensions: Dimensions = {}


class MetricIn(msgspec.Struct, forbid_unknown_fields=True):
    """A point with the right field types; every other rule is checked in Python."""

    name: str
    timestamp: int | str
    value: float
    dimensions: dict[str, str] = {}


class WriteBody(msgspec.Struct, forbid_unknown_fields=True):
    metrics: list[FastMetric]


class LooseWriteBody(msgspec.Struct, forbid_unknown_fields=True):
    metrics: list[msgspec.Raw]


_typed = msgspec.json.Decoder(WriteBody)
_loose = msgspec.json.Decoder(LooseWriteBody)
_point = msgspec.json.Decoder(MetricIn)
_any = msgspec.json.Decoder()


class PointError(msgspec.Struct):
    code: str
    message: str


class RejectedPoint(msgspec.Struct):
    index: int
    metric: str | None
    error: PointError


@dataclass
class Validated:
    points: TenantPoints
    rejected: list[RejectedPoint] = field(default_factory=list)
    rejected_count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # Request index of each accepted point, when some were rejected (else position = index).
    indices: list[int] | None = None

    def index_of(self, position: int) -> int:
        return position if self.indices is None else self.indices[position]

    def refuse(self, refused: list[tuple[int, PointErrorCode, str]]) -> None:
        """Move accepted points (by position in `points`) to the rejected list."""
        p = self.points
        drop = {pos for pos, _, _ in refused}
        for pos, code, message in refused:
            self.reject(self.index_of(pos), p.names[pos], code, message)
        self.rejected.sort(key=lambda r: r.index)
        keep = [i for i in range(len(p)) if i not in drop]
        if self.indices is not None:
            self.indices = [self.indices[i] for i in keep]
        else:
            self.indices = keep
        p.names = [p.names[i] for i in keep]
        p.timestamps = [p.timestamps[i] for i in keep]
        p.values = [p.values[i] for i in keep]
        p.keys = [p.keys[i] for i in keep]
        p.dim_values = [p.dim_values[i] for i in keep]

    def reject(self, index: int, metric: str | None, code: PointErrorCode, message: str) -> None:
        self.rejected_count += 1
        self.reasons[code.value] = self.reasons.get(code.value, 0) + 1
        if len(self.rejected) < MAX_REPORTED_ERRORS:
            self.rejected.append(RejectedPoint(index, metric, PointError(code.value, message)))


class _NameCache:
    """Names already proven valid. Bounded: cleared when full, which only costs re-checking."""

    def __init__(self, limit: int = 100_000) -> None:
        self.good: set[str] = set()
        self.limit = limit

    def add(self, name: str) -> None:
        if len(self.good) >= self.limit:
            self.good.clear()
        self.good.add(name)


class PointValidator:
    """Validates points against the write rules of DESIGN §1; reusable across requests."""

    def __init__(self, *, max_age_ms: int, max_future_ms: int, max_points: int) -> None:
        self.max_age_ms = max_age_ms
        self.max_future_ms = max_future_ms
        self.max_points = max_points
        self._names = _NameCache()
        self._keys = _NameCache()

    def decode(self, body: bytes, tenant: str, now_ms: int) -> Validated:
        """Every point either lands in `points` or in `rejected`; raises BadRequest only when the
        body as a whole is unusable (nothing is accepted then)."""
        out = Validated(TenantPoints(tenant))
        try:
            metrics = _typed.decode(body).metrics
        except msgspec.ValidationError:
            metrics = None
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            raise _unusable(exc) from None
        if metrics is not None:
            self._check_count(len(metrics))
            if self._all_valid(metrics, now_ms):
                _append_all(out.points, metrics)
                return out
            out.indices = []
            for index, m in enumerate(metrics):
                self._check(out, index, m, now_ms)
            return out
        try:
            raws = _loose.decode(body).metrics
        except (
            msgspec.ValidationError,
            msgspec.DecodeError,
            RecursionError,
            UnicodeDecodeError,
        ) as exc:
            raise _unusable(exc) from None
        self._check_count(len(raws))
        out.indices = []
        for index, raw in enumerate(raws):
            try:
                point = _point.decode(raw)
            except UnicodeDecodeError as exc:
                raise _unusable(exc) from None  # not JSON at all: the whole body goes
            except (msgspec.ValidationError, RecursionError) as exc:
                message = str(exc) if isinstance(exc, msgspec.ValidationError) else "too deep"
                # JSON numbers beyond float range (1e999) are the JSON spelling of infinity.
                code = (
                    PointErrorCode.NON_FINITE_VALUE
                    if "out of range" in message and "$.value" in message
                    else PointErrorCode.INVALID_POINT
                )
                out.reject(index, _name_of(raw), code, message)
                continue
            self._check(out, index, point, now_ms)
        return out

    def _check_count(self, n: int) -> None:
        if n > self.max_points:
            raise BadRequest(
                f"{n} points in one request; the limit is {self.max_points} "
                "(LUMINATE_WRITE_MAX_POINTS)",
                code=ErrorCode.TOO_MANY_POINTS,
                details={"points": n, "limit": self.max_points},
            )

    def _all_valid(self, metrics: list[FastMetric], now_ms: int) -> bool:
        """True when every point passes the rules the typed decode could not check, judged
        from caches; False sends the body through the per-point path."""
        names = self._names.good
        keys = self._keys.good
        lo = now_ms - self.max_age_ms
        hi = now_ms + self.max_future_ms
        for m in metrics:
            ts = m.timestamp
            if (
                m.name not in names
                or type(ts) is not int
                or ts < lo
                or ts > hi
                or not keys.issuperset(m.dimensions)
            ):
                return False
        return True

    def _check(self, out: Validated, index: int, m: MetricIn | FastMetric, now_ms: int) -> None:
        name = m.name
        if name not in self._names.good:
            if len(name) > MAX_NAME or not NAME.fullmatch(name):
                out.reject(
                    index,
                    name[:MAX_NAME],
                    PointErrorCode.INVALID_METRIC_NAME,
                    f"metric name must match {NAME.pattern} and be at most {MAX_NAME} characters",
                )
                return
            self._names.add(name)
        ts = m.timestamp
        if type(ts) is not int:
            try:
                ts = parse_time(ts)
            except ValueError as exc:
                out.reject(index, name, PointErrorCode.INVALID_TIMESTAMP, str(exc))
                return
        if ts < now_ms - self.max_age_ms:
            out.reject(
                index,
                name,
                PointErrorCode.TIMESTAMP_TOO_OLD,
                f"timestamp {ts} is older than {self.max_age_ms // 1000} s "
                "(LUMINATE_WRITE_MAX_AGE_SECONDS)",
            )
            return
        if ts > now_ms + self.max_future_ms:
            out.reject(
                index,
                name,
                PointErrorCode.TIMESTAMP_IN_FUTURE,
                f"timestamp {ts} is more than {self.max_future_ms // 1000} s in the future "
                "(LUMINATE_WRITE_MAX_FUTURE_SECONDS)",
            )
            return
        value = m.value
        if not math.isfinite(value):
            out.reject(index, name, PointErrorCode.NON_FINITE_VALUE, "value must be finite")
            return
        dims = m.dimensions
        if dims:
            if len(dims) > MAX_DIMENSIONS:
                out.reject(
                    index,
                    name,
                    PointErrorCode.TOO_MANY_DIMENSIONS,
                    f"{len(dims)} dimensions; at most {MAX_DIMENSIONS} are allowed",
                )
                return
            keys = list(dims)
            vals = list(dims.values())
            for k, v in zip(keys, vals, strict=True):
                if k not in self._keys.good:
                    if len(k) > MAX_KEY or not NAME.fullmatch(k):
                        out.reject(
                            index,
                            name,
                            PointErrorCode.INVALID_DIMENSION_KEY,
                            f"dimension key {k[:MAX_KEY]!r} must match {NAME.pattern} and be at "
                            f"most {MAX_KEY} characters",
                        )
                        return
                    self._keys.add(k)
                if not v or len(v) > MAX_VALUE:
                    out.reject(
                        index,
                        name,
                        PointErrorCode.INVALID_DIMENSION_VALUE,
                        f"dimension {k!r} must have a non-empty value of at most {MAX_VALUE} "
                        "characters",
                    )
                    return
        else:
            keys, vals = [], []
        p = out.points
        if out.indices is not None:
            out.indices.append(index)
        p.names.append(name)
        p.timestamps.append(ts)
        p.values.append(value)
        p.keys.append(keys)
        p.dim_values.append(vals)


def _append_all(points: TenantPoints, metrics: list[FastMetric]) -> None:
    points.names.extend([m.name for m in metrics])
    points.timestamps.extend([m.timestamp for m in metrics])  # type: ignore[misc]
    points.values.extend([m.value for m in metrics])
    points.keys.extend([list(m.dimensions) for m in metrics])
    points.dim_values.extend([list(m.dimensions.values()) for m in metrics])


def _unusable(exc: Exception) -> BadRequest:
    if isinstance(exc, RecursionError):
        return BadRequest("body is nested too deeply", code=ErrorCode.INVALID_BODY)
    if isinstance(exc, UnicodeDecodeError):
        return BadRequest(f"body is not valid UTF-8: {exc}", code=ErrorCode.MALFORMED_JSON)
    if isinstance(exc, msgspec.ValidationError):
        return BadRequest(
            f'body must be an object {{"metrics": [...]}}: {exc}', code=ErrorCode.INVALID_BODY
        )
    return BadRequest(f"body is not valid JSON: {exc}", code=ErrorCode.MALFORMED_JSON)


def _name_of(raw: msgspec.Raw) -> str | None:
    try:
        obj = _any.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        return str(obj["name"])[:MAX_NAME]
    return None
