"""JSON write bodies: `{"metrics": [{"name", "timestamp", "value", "dimensions"}]}` decoded into
validated points, and the write answer encoded.

The fast path decodes the whole body into constrained structs in one C call (types, lengths,
dimension count) and lets the validator judge the rest from its caches. When either says no, each
point is decoded and checked on its own, so a bad point is reported by index while its neighbours
are still accepted."""

from __future__ import annotations

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


class WriteDecoder:
    """Decodes JSON write bodies with one validator (shared across requests for its caches)."""

    def __init__(self, validator: PointValidator) -> None:
        self.validator = validator

    def decode(self, body: bytes, tenant: str, now_ms: int) -> Validated:
        """Every point either lands in `points` or in `rejected`; raises BadRequest only when the
        body as a whole is unusable (nothing is accepted then)."""
        v = self.validator
        out = Validated(TenantPoints(tenant))
        try:
            metrics = _typed.decode(body).metrics
        except msgspec.ValidationError:
            metrics = None
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            raise _unusable(exc) from None
        if metrics is not None:
            v.check_count(len(metrics))
            if v.all_valid(metrics, now_ms):
                _append_all(out.points, metrics)
                return out
            out.indices = []
            for index, m in enumerate(metrics):
                v.check(out, index, m, now_ms)
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
        v.check_count(len(raws))
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
            v.check(out, index, point, now_ms)
        return out


class WriteResponse(msgspec.Struct):
    """At most 1,000 errors are listed; `rejected` counts all."""

    accepted: int
    rejected: int
    errors: list[RejectedPoint]

    @classmethod
    def of(cls, outcome: WriteOutcome) -> WriteResponse:
        return cls(outcome.accepted, outcome.rejected, outcome.errors)


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
