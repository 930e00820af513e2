"""JSON write bodies: `{"metrics": [{"name", "timestamp", "value", "dimensions"}]}` decoded into
validated points, and the write answer encoded.

The fast path decodes the whole body into constrained structs in one C call (types, lengths,
dimension count) and lets the validator judge the rest from its caches. When either says no, each
point is decoded and checked on its own, so a bad point is reported by index while its neighbours
are still accepted."""

from __future__ import annotations

import operator
import re
from itertools import repeat
from typing import Annotated

import msgspec

from luminate.ingest.validate import PointValidator
from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.names import MAX_DIMENSIONS, MAX_NAME, MAX_VALUE
from luminate.model.points import (
    PointErrorCode,
    RejectedPoint,
    TenantPoints,
    Validated,
    WriteOutcome,
)

DimensionValue = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_VALUE)]
Dimensions = Annotated[dict[str, DimensionValue], msgspec.Meta(max_length=MAX_DIMENSIONS)]


class FastMetric(msgspec.Struct, forbid_unknown_fields=True):
    """The shape of a valid point, as far as msgspec can check it while decoding."""

    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
    timestamp: int | str
    value: float
    dimensions: Dimensions = {}


class MetricIn(msgspec.Struct, forbid_unknown_fields=True):
    """A point with the right field types; every other rule is checked by the validator."""

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


# A valid point is far smaller than this (a 256-character name and 20 dimensions of 128 and 256
# characters, every character escaped); a larger one is judged without decoding it whole.
MAX_POINT_BYTES = 64 * 1024
# Bodies up to this size are decoded in one typed call; larger ones point by point in chunks,
# so no single decode call (which holds the interpreter) runs long.
WHOLE_BODY_BYTES = 64 * 1024
CHUNK_POINTS = 2000


class _Shape(msgspec.Struct, forbid_unknown_fields=True):
    """A point's fields, not yet decoded: how an oversized point is judged field by field."""

    name: msgspec.Raw
    timestamp: msgspec.Raw
    value: msgspec.Raw
    dimensions: msgspec.Raw = msgspec.Raw(b"{}")


_shape = msgspec.json.Decoder(_Shape)
_str = msgspec.json.Decoder(str)
_time = msgspec.json.Decoder(int | str)
_float = msgspec.json.Decoder(float)
_dimensions = msgspec.json.Decoder(dict[str, str])
# Every JSON string, and whether it is an object key (a colon follows).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?', re.DOTALL)


class WriteDecoder:
    """Decodes JSON write bodies with one validator (shared across requests for its caches).

    The work per decode call is bounded whatever the body holds: bodies over WHOLE_BODY_BYTES
    are split into points first (a scan that builds nothing), decoded in chunks, and a point
    over MAX_POINT_BYTES is judged field by field, its dimensions counted only up to the
    first one too many. A body of one point with a million dimensions costs milliseconds."""

    def __init__(self, validator: PointValidator) -> None:
        self.validator = validator

    def decode(self, body: bytes, tenant: str, now_ms: int) -> Validated:
        """Every point either lands in `points` or in `rejected`; raises BadRequest only when the
        body as a whole is unusable (nothing is accepted then)."""
        out = Validated(TenantPoints(tenant))
        if len(body) <= WHOLE_BODY_BYTES:
            try:
                metrics = _typed.decode(body).metrics
            except msgspec.ValidationError:
                metrics = None
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
                raise _unusable(exc) from None
            if metrics is not None:
                self.validator.check_count(len(metrics))
                self._check_decoded(out, metrics, 0, now_ms)
                return out
        raws = _split(body)
        self.validator.check_count(len(raws))
        for start in range(0, len(raws), CHUNK_POINTS):
            self._check_chunk(out, raws[start : start + CHUNK_POINTS], start, now_ms)
        return out

    def _check_chunk(
        self, out: Validated, raws: list[msgspec.Raw], offset: int, now_ms: int
    ) -> None:
        if all(len(r) <= MAX_POINT_BYTES for r in raws):
            try:
                metrics = _typed.decode(b'{"metrics":[' + b",".join(raws) + b"]}").metrics
            except msgspec.ValidationError:
                metrics = None
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
                raise _unusable(exc) from None
            if metrics is not None:
                self._check_decoded(out, metrics, offset, now_ms)
                return
        _track_indices(out)
        for i, raw in enumerate(raws):
            self._check_raw(out, offset + i, raw, now_ms)

    def _check_decoded(
        self, out: Validated, metrics: list[FastMetric], offset: int, now_ms: int
    ) -> None:
        v = self.validator
        if v.all_valid(metrics, now_ms):
            if out.indices is not None:
                out.indices.extend(range(offset, offset + len(metrics)))
            _append_all(out.points, metrics)
            return
        _track_indices(out)
        for i, m in enumerate(metrics):
            v.check(out, offset + i, m, now_ms)

    def _check_raw(self, out: Validated, index: int, raw: msgspec.Raw, now_ms: int) -> None:
        if len(raw) > MAX_POINT_BYTES:
            self._check_oversized(out, index, raw, now_ms)
            return
        try:
            point = _point.decode(raw)
        except UnicodeDecodeError as exc:
            raise _unusable(exc) from None  # not JSON at all: the whole body goes
        except (msgspec.ValidationError, RecursionError) as exc:
            out.reject(index, _name_of(raw), *_decode_failure(exc))
            return
        self.validator.check(out, index, point, now_ms)

    def _check_oversized(self, out: Validated, index: int, raw: msgspec.Raw, now_ms: int) -> None:
        """The same verdict as for any point, reached without building what it holds."""
        try:
            shape = _shape.decode(raw)
            name = _str.decode(shape.name)
            timestamp = _time.decode(shape.timestamp)
            value = _float.decode(shape.value)
        except UnicodeDecodeError as exc:
            raise _unusable(exc) from None
        except (msgspec.ValidationError, RecursionError) as exc:
            out.reject(index, None, *_decode_failure(exc))
            return
        keys = 0
        for match in _STRING.finditer(memoryview(shape.dimensions)):
            keys += match.group(1) is not None
            if keys > MAX_DIMENSIONS:
                break
        if keys > MAX_DIMENSIONS:
            # The rules before the dimension count decide first, as for any point.
            scratch = Validated(TenantPoints(out.points.tenant), indices=[])
            self.validator.check(scratch, index, MetricIn(name, timestamp, value), now_ms)
            if scratch.rejected:
                first = scratch.rejected[0]
                out.reject(index, first.metric, first.error.code, first.error.message)
            else:
                out.reject(
                    index,
                    name[:MAX_NAME],
                    PointErrorCode.TOO_MANY_DIMENSIONS,
                    f"more than {MAX_DIMENSIONS} dimensions; at most {MAX_DIMENSIONS} are allowed",
                )
            return
        try:
            dims = _dimensions.decode(shape.dimensions)
        except UnicodeDecodeError as exc:
            raise _unusable(exc) from None
        except (msgspec.ValidationError, RecursionError) as exc:
            out.reject(index, name[:MAX_NAME], *_decode_failure(exc))
            return
        self.validator.check(out, index, MetricIn(name, timestamp, value, dims), now_ms)


def _split(body: bytes) -> list[msgspec.Raw]:
    """The body's points, undecoded (a structural scan: nothing inside them is built)."""
    try:
        return _loose.decode(body).metrics
    except (
        msgspec.ValidationError,
        msgspec.DecodeError,
        RecursionError,
        UnicodeDecodeError,
    ) as exc:
        raise _unusable(exc) from None


def _track_indices(out: Validated) -> None:
    """From here on some points may be refused: record each accepted point's request index."""
    if out.indices is None:
        out.indices = list(range(len(out.points)))


def _decode_failure(exc: Exception) -> tuple[PointErrorCode, str]:
    message = str(exc) if isinstance(exc, msgspec.ValidationError) else "too deep"
    # JSON numbers beyond float range (1e999) are the JSON spelling of infinity.
    if ("out of range" in message and "$.value" in message) or message == "Number out of range":
        return PointErrorCode.NON_FINITE_VALUE, message
    return PointErrorCode.INVALID_POINT, message


class WriteResponse(msgspec.Struct):
    """At most 1,000 errors are listed; `rejected` counts all."""

    accepted: int
    rejected: int
    errors: list[RejectedPoint]

    @classmethod
    def of(cls, outcome: WriteOutcome) -> WriteResponse:
        return cls(outcome.accepted, outcome.rejected, outcome.errors)


def _append_all(points: TenantPoints, metrics: list[FastMetric]) -> None:
    # map() with C callables: no Python frame per point.
    dims = list(map(_dimensions_of, metrics))
    points.names.extend(map(_name_of_metric, metrics))
    points.timestamps.extend(map(_timestamp_of, metrics))
    points.values.extend(map(_value_of, metrics))
    shared = _shared_keys(dims)
    if shared is not None:
        keys, values = shared
        points.keys.extend(repeat(keys, len(dims)))
        points.dim_values.extend(values)
        return
    points.keys.extend(map(list, dims))
    points.dim_values.extend(map(list, map(dict.values, dims)))


def _shared_keys(dims: list[dict[str, str]]) -> tuple[list[str], list[tuple[str, ...]]] | None:
    """When every point has the same dimension keys (the usual write), those keys sorted and
    each point's values in that order: one list of keys shared by all points and a tuple of
    values each, picked in C, instead of two new lists per point. Series identity hashes values
    in sorted-key order, so it then hashes them as they are. None when the keys differ."""
    if not dims or not dims[0]:
        return None
    keys = sorted(dims[0])
    if set(map(len, dims)) != {len(keys)}:
        return None
    values: list[tuple[str, ...]]
    try:
        if len(keys) == 1:
            values = list(zip(map(operator.itemgetter(keys[0]), dims), strict=True))
        else:
            values = list(map(operator.itemgetter(*keys), dims))
    except KeyError:  # as many keys, not the same ones
        return None
    return keys, values


_name_of_metric = operator.attrgetter("name")
_timestamp_of = operator.attrgetter("timestamp")
_value_of = operator.attrgetter("value")
_dimensions_of = operator.attrgetter("dimensions")


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
