"""Query request bodies decoded into the frozen `Query` model (with a precise code per
mistake, under the tenant's query budget), and the query answer encoded."""

from __future__ import annotations

import math

import msgspec

from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.names import MAX_VALUE, check_dimension_key, check_metric_name
from luminate.model.query import (
    AggregateRow,
    Aggregation,
    Query,
    QueryLimits,
    QueryResult,
    QueryType,
    RangePoint,
    RateRow,
    TimeRange,
)
from luminate.model.time import parse_duration, parse_time

MAX_GROUP_BY = 10
MAX_FILTERS = 20


class TimeRangeIn(msgspec.Struct, forbid_unknown_fields=True):
    start: int | str | None = None
    end: int | str | None = None
    relative: str | None = None


class QueryIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    query_type: str
    metric_name: str
    time_range: TimeRangeIn
    filters: dict[str, str] = {}
    aggregation: str | None = None
    group_by: list[str] = []
    interval: str | None = None
    limit: int | None = None
    timeout: str | None = None


_decoder = msgspec.json.Decoder(QueryIn)


def decode_query(body: bytes, limits: QueryLimits, now_ms: int) -> Query:
    try:
        raw = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        code = (
            ErrorCode.MISSING_FIELD
            if "missing required field" in message
            else (ErrorCode.INVALID_BODY)
        )
        raise BadRequest(f"invalid query: {message}", code=code) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", code=ErrorCode.MALFORMED_JSON) from None
    except RecursionError:
        raise BadRequest("body is nested too deeply", code=ErrorCode.INVALID_BODY) from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not valid UTF-8: {exc}", code=ErrorCode.MALFORMED_JSON) from None
    return build_query(raw, limits, now_ms)


def build_query(raw: QueryIn, limits: QueryLimits, now_ms: int) -> Query:
    try:
        qtype = QueryType(raw.query_type)
    except ValueError:
        raise BadRequest(
            f"queryType {raw.query_type[:64]!r} is unknown; use one of "
            f"{', '.join(t.value for t in QueryType)}",
            code=ErrorCode.UNKNOWN_QUERY_TYPE,
        ) from None
    metric = check_metric_name(raw.metric_name)
    time_range = decode_time_range(raw.time_range, now_ms)
    span_ms = time_range.end_ms - time_range.start_ms
    # A relative range ends 1 ms after now (end is exclusive), so "1h" spans 1 h + 1 ms.
    if limits.max_range_s and span_ms > limits.max_range_s * 1000 + 1:
        raise BadRequest(
            f"time range of {span_ms / 1000:g} s exceeds the query budget of "
            f"{limits.max_range_s} s "
            "(LUMINATE_QUERY_MAX_RANGE_SECONDS or the override `query_max_range_seconds`)",
            code=ErrorCode.TIME_RANGE_TOO_LONG,
            details={"budget": "query_max_range_seconds", "limit": limits.max_range_s},
        )

    aggregation: Aggregation | None = None
    if qtype is QueryType.AGGREGATE:
        if raw.aggregation is None:
            raise BadRequest("aggregate queries need an aggregation", code=ErrorCode.MISSING_FIELD)
        try:
            aggregation = Aggregation(raw.aggregation)
        except ValueError:
            raise BadRequest(
                f"aggregation {raw.aggregation[:64]!r} is unknown; use one of "
                f"{', '.join(a.value for a in Aggregation)}",
                code=ErrorCode.UNKNOWN_AGGREGATION,
            ) from None
    elif raw.aggregation is not None:
        raise BadRequest(
            f"aggregation applies to aggregate queries, not {qtype.value}",
            code=ErrorCode.NOT_APPLICABLE,
        )
    if qtype is QueryType.RANGE and (raw.group_by or raw.interval):
        raise BadRequest(
            "groupBy and interval apply to aggregate and rate queries, not range",
            code=ErrorCode.NOT_APPLICABLE,
        )

    interval_ms: int | None = None
    if raw.interval is not None:
        interval_ms = _duration(raw.interval, "interval")
    if qtype is QueryType.RATE and interval_ms is None:
        raise BadRequest('rate queries need an interval (e.g. "1m")', code=ErrorCode.MISSING_FIELD)
    if interval_ms is not None:
        buckets = -(-(time_range.end_ms - time_range.start_ms) // interval_ms)
        if buckets > limits.max_buckets:
            raise BadRequest(
                f"{buckets} buckets of {raw.interval} in the time range; at most "
                f"{limits.max_buckets} (LUMINATE_QUERY_MAX_BUCKETS)",
                code=ErrorCode.TOO_MANY_BUCKETS,
            )

    return Query(
        type=qtype,
        metric=metric,
        time_range=time_range,
        filters=_filters(raw.filters),
        aggregation=aggregation,
        group_by=_group_by(raw.group_by),
        interval_ms=interval_ms,
        limit=_limit(raw.limit, limits),
        timeout_s=_timeout(raw.timeout, limits),
        max_rows_scanned=limits.max_rows_scanned,
    )


def decode_time_range(raw: TimeRangeIn, now_ms: int) -> TimeRange:
    if raw.relative is not None:
        if raw.start is not None or raw.end is not None:
            raise BadRequest(
                "timeRange takes either relative or start/end, not both",
                code=ErrorCode.INVALID_TIME_RANGE,
            )
        span = _duration(raw.relative, "timeRange.relative")
        return TimeRange(max(0, now_ms - span), now_ms + 1)
    if raw.start is None or raw.end is None:
        raise BadRequest("timeRange needs start and end, or relative", code=ErrorCode.MISSING_FIELD)
    return window(raw.start, raw.end)


def window(start: int | str, end: int | str) -> TimeRange:
    start_ms = time_value(start, "start")
    end_ms = time_value(end, "end")
    if start_ms >= end_ms:
        raise BadRequest(
            f"time range start ({start_ms}) must be before end ({end_ms})",
            code=ErrorCode.INVALID_TIME_RANGE,
        )
    return TimeRange(start_ms, end_ms)


def time_value(value: int | str, name: str) -> int:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}", code=ErrorCode.INVALID_TIME) from None


def _duration(text: str, name: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}", code=ErrorCode.INVALID_DURATION) from None


def _filters(raw: dict[str, str]) -> tuple[tuple[str, str], ...]:
    if len(raw) > MAX_FILTERS:
        raise BadRequest(
            f"{len(raw)} filters; at most {MAX_FILTERS}", code=ErrorCode.INVALID_FILTER
        )
    out = []
    for key, value in sorted(raw.items()):
        check_dimension_key(key, ErrorCode.INVALID_FILTER)
        if not value or len(value) > MAX_VALUE:
            raise BadRequest(
                f"filter {key!r} needs a non-empty value of at most {MAX_VALUE} characters",
                code=ErrorCode.INVALID_FILTER,
            )
        out.append((key, value))
    return tuple(out)


def _group_by(raw: list[str]) -> tuple[str, ...]:
    if len(raw) > MAX_GROUP_BY:
        raise BadRequest(
            f"{len(raw)} groupBy keys; at most {MAX_GROUP_BY}", code=ErrorCode.INVALID_GROUP_BY
        )
    if len(set(raw)) != len(raw):
        raise BadRequest("groupBy keys must be distinct", code=ErrorCode.INVALID_GROUP_BY)
    return tuple(check_dimension_key(k, ErrorCode.INVALID_GROUP_BY) for k in raw)


def _limit(raw: int | None, limits: QueryLimits) -> int:
    if raw is None:
        return limits.default_limit
    if not 1 <= raw <= limits.max_limit:
        raise BadRequest(
            f"limit must be between 1 and {limits.max_limit} "
            "(LUMINATE_QUERY_MAX_LIMIT or the override `query_max_limit`)",
            code=ErrorCode.INVALID_LIMIT,
        )
    return raw


def _timeout(raw: str | None, limits: QueryLimits) -> float:
    if raw is None:
        return limits.default_timeout_s
    try:
        seconds = parse_duration(raw) / 1000
    except ValueError as exc:
        raise BadRequest(f"timeout: {exc}", code=ErrorCode.INVALID_TIMEOUT) from None
    if seconds > limits.max_timeout_s:
        raise BadRequest(
            f"timeout {raw} exceeds {limits.max_timeout_s:g} s "
            "(LUMINATE_QUERY_MAX_TIMEOUT_SECONDS or the override `query_max_timeout_seconds`)",
            code=ErrorCode.INVALID_TIMEOUT,
        )
    return seconds


# -- the answer ---------------------------------------------------------------------------------

GroupKey = dict[str, str | None]


class _Out(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, rename="camel"):
    """Response structs: closed objects in the OpenAPI document, camelCase on the wire."""


class RangeRow(_Out):
    timestamp: int
    value: float
    dimensions: dict[str, str]


class AggregateRowOut(_Out):
    """One group (and bucket, with an interval). `value` is null when it overflows a float."""

    group_key: GroupKey
    value: float | None
    count: int
    timestamp: int | None = None


class RateRowOut(_Out):
    timestamp: int
    rate: float | None
    group_key: GroupKey | None = None


class _QueryResponse(_Out, tag_field="queryType"):
    points_scanned: int
    truncated: bool
    execution_time_ms: float


class RangeResponse(_QueryResponse, tag="range"):
    results: list[RangeRow]


class AggregateResponse(_QueryResponse, tag="aggregate"):
    results: list[AggregateRowOut]


class RateResponse(_QueryResponse, tag="rate"):
    results: list[RateRowOut]


QueryResponse = RangeResponse | AggregateResponse | RateResponse


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _group_key(q: Query, group: tuple[str, ...]) -> GroupKey:
    # '' is how storage spells "the point lacks this key".
    return {k: (v or None) for k, v in zip(q.group_by, group, strict=True)}


def encode_result(q: Query, result: QueryResult, execution_ms: float) -> QueryResponse:
    """The response body for `result`, the answer to `q`."""
    scanned, truncated = result.points_scanned, result.truncated
    if q.type is QueryType.RANGE:
        points = [r for r in result.rows if isinstance(r, RangePoint)]
        rows = [RangeRow(p.timestamp, p.value, p.dimensions) for p in points]
        return RangeResponse(scanned, truncated, execution_ms, rows)
    if q.type is QueryType.RATE:
        rates = [r for r in result.rows if isinstance(r, RateRow)]
        return RateResponse(
            scanned,
            truncated,
            execution_ms,
            [
                RateRowOut(
                    r.bucket, _finite(r.rate), _group_key(q, r.group) if q.group_by else None
                )
                for r in rates
            ],
        )
    aggs = [r for r in result.rows if isinstance(r, AggregateRow)]
    return AggregateResponse(
        scanned,
        truncated,
        execution_ms,
        [
            AggregateRowOut(
                _group_key(q, a.group),
                _finite(a.value),
                a.count,
                a.bucket if q.interval_ms else None,
            )
            for a in aggs
        ],
    )
