from __future__ import annotations

import msgspec
import pytest

from luminate.http.codec.query import decode_query
from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.query import Aggregation, QueryLimits, QueryType, TimeRange

NOW = 1_795_600_800_000
LIMITS = QueryLimits(
    default_limit=1000, max_limit=5000, default_timeout_s=10, max_timeout_s=60, max_buckets=100
)


def q(**over: object) -> bytes:
    base: dict[str, object] = {
        "queryType": "aggregate",
        "metricName": "api_latency",
        "timeRange": {"relative": "1h"},
        "aggregation": "p95",
    }
    base.update(over)
    return msgspec.json.encode({k: v for k, v in base.items() if v is not None})


def test_full_aggregate_query() -> None:
    query = decode_query(
        q(
            filters={"customer_id": "c1"},
            groupBy=["endpoint"],
            interval="1m",
            limit=10,
            timeout="500ms",
        ),
        LIMITS,
        NOW,
    )
    assert query.type is QueryType.AGGREGATE and query.aggregation is Aggregation.P95
    assert query.time_range == TimeRange(NOW - 3_600_000, NOW + 1)
    assert query.filters == (("customer_id", "c1"),)
    assert (query.group_by, query.interval_ms, query.limit, query.timeout_s) == (
        ("endpoint",),
        60_000,
        10,
        0.5,
    )


def test_absolute_range_in_both_spellings() -> None:
    query = decode_query(
        q(timeRange={"start": "2026-11-25T10:00:00Z", "end": NOW + 60_000}), LIMITS, NOW
    )
    assert query.time_range == TimeRange(NOW, NOW + 60_000)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", ErrorCode.MALFORMED_JSON),
        (b"[" * 50_000, ErrorCode.INVALID_BODY),
        (b'{"queryType": ' + b"[" * 50_000, ErrorCode.INVALID_BODY),
        (q(queryType="histogram"), ErrorCode.UNKNOWN_QUERY_TYPE),
        (q(aggregation="median"), ErrorCode.UNKNOWN_AGGREGATION),
        (q(aggregation=None), ErrorCode.MISSING_FIELD),
        (q(metricName=None), ErrorCode.MISSING_FIELD),
        (q(queryType="range"), ErrorCode.NOT_APPLICABLE),
        (q(queryType="range", aggregation=None, groupBy=["a"]), ErrorCode.NOT_APPLICABLE),
        (q(queryType="rate", aggregation=None), ErrorCode.MISSING_FIELD),
        (q(metricName="bad name"), ErrorCode.INVALID_METRIC_NAME),
        (q(timeRange={"start": NOW, "end": NOW}), ErrorCode.INVALID_TIME_RANGE),
        (q(timeRange={"start": NOW, "end": NOW - 1}), ErrorCode.INVALID_TIME_RANGE),
        (q(timeRange={"start": NOW}), ErrorCode.MISSING_FIELD),
        (q(timeRange={"relative": "1h", "start": NOW}), ErrorCode.INVALID_TIME_RANGE),
        (q(timeRange={"start": "yesterday", "end": NOW}), ErrorCode.INVALID_TIME),
        (q(timeRange={"relative": "an hour"}), ErrorCode.INVALID_DURATION),
        (q(timeRange={"relative": "1h"}, interval="1s"), ErrorCode.TOO_MANY_BUCKETS),
        (q(interval="soon"), ErrorCode.INVALID_DURATION),
        (q(limit=0), ErrorCode.INVALID_LIMIT),
        (q(limit=10**9), ErrorCode.INVALID_LIMIT),
        (q(timeout="2h"), ErrorCode.INVALID_TIMEOUT),
        (q(timeout="fast"), ErrorCode.INVALID_TIMEOUT),
        (q(filters={"bad-key": "v"}), ErrorCode.INVALID_FILTER),
        (q(filters={"k": ""}), ErrorCode.INVALID_FILTER),
        (q(groupBy=["a", "a"]), ErrorCode.INVALID_GROUP_BY),
        (q(groupBy=["a b"]), ErrorCode.INVALID_GROUP_BY),
        (q(groupBy=[f"k{i}" for i in range(11)]), ErrorCode.INVALID_GROUP_BY),
        (q(limit="10"), ErrorCode.INVALID_BODY),
        (q(unknown=1), ErrorCode.INVALID_BODY),
    ],
)
def test_each_mistake_has_its_code(body: bytes, code: ErrorCode) -> None:
    with pytest.raises(BadRequest) as info:
        decode_query(body, LIMITS, NOW)
    assert info.value.code is code
    assert info.value.message
