"""Single points of a write body: invalid ones with the per-point code and metric each must be
reported with, and valid ones that only look odd, with the timestamp each is stored under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest.mock import ANY

from tests.app.bodies import dims, nested, rfc3339, without
from tests.support.clock import now_ms
from tests.support.points import DAY_MS, HOUR_MS, PROBE, dumps, point


@dataclass(frozen=True)
class PointCase:
    id: str
    raw: Callable[[], bytes]
    code: str
    metric: Any = PROBE


def bad(case_id: str, code: str, metric: Any = PROBE, **over: Any) -> PointCase:
    return PointCase(case_id, lambda: dumps(point(**over)), code, metric)


def raw_value(literal: str) -> Callable[[], bytes]:
    return lambda: dumps(point(value=0)).replace(b'"value": 0', b'"value": ' + literal.encode())


def raw_timestamp(literal: str) -> Callable[[], bytes]:
    return lambda: dumps(point(timestamp=0)).replace(
        b'"timestamp": 0', b'"timestamp": ' + literal.encode()
    )


NAME_257 = "n" * 257
POINT_CASES: list[PointCase] = [
    bad("name-starts-with-digit", "invalid_metric_name", "1probe", name="1probe"),
    bad("name-with-dash", "invalid_metric_name", "pro-be", name="pro-be"),
    bad("name-with-dot", "invalid_metric_name", "pro.be", name="pro.be"),
    bad("name-with-space", "invalid_metric_name", "pro be", name="pro be"),
    bad("name-empty", "invalid_metric_name", "", name=""),
    bad("name-non-ascii", "invalid_metric_name", "naïve", name="naïve"),
    bad("name-257-chars", "invalid_metric_name", NAME_257[:256], name=NAME_257),
    bad("key-starts-with-digit", "invalid_dimension_key", dimensions={"1key": "v"}),
    bad("key-with-dash", "invalid_dimension_key", dimensions={"ke-y": "v"}),
    bad("key-empty", "invalid_dimension_key", dimensions={"": "v"}),
    bad("key-non-ascii", "invalid_dimension_key", dimensions={"ключ": "v"}),
    bad("key-129-chars", "invalid_dimension_key", dimensions={"k" * 129: "v"}),
    bad("value-empty", "invalid_dimension_value", dimensions={"host": ""}),
    bad("value-257-chars", "invalid_dimension_value", dimensions={"host": "v" * 257}),
    bad("21-dimensions", "too_many_dimensions", dimensions=dims(21)),
    PointCase("value-1e999", raw_value("1e999"), "non_finite_value", ANY),
    PointCase("value-minus-1e999", raw_value("-1e999"), "non_finite_value", ANY),
    PointCase("value-1e309", raw_value("1e309"), "non_finite_value", ANY),
    bad("timestamp-garbage", "invalid_timestamp", timestamp="yesterday"),
    bad("timestamp-empty-string", "invalid_timestamp", timestamp=""),
    bad("timestamp-negative-string", "invalid_timestamp", timestamp="-1"),
    bad("timestamp-seconds-with-fraction", "invalid_timestamp", timestamp="1700000000.5"),
    bad("timestamp-rfc3339-without-offset", "invalid_timestamp", timestamp="2026-01-01T00:00:00"),
    bad("timestamp-rfc3339-date-only", "invalid_timestamp", timestamp="2026-01-01"),
    bad("timestamp-rfc3339-bad-date", "invalid_timestamp", timestamp="2026-13-45T25:61:00Z"),
    bad("timestamp-8-days-old", "timestamp_too_old", timestamp=now_ms() - 8 * DAY_MS),
    bad("timestamp-zero", "timestamp_too_old", timestamp=0),
    bad("timestamp-negative", "timestamp_too_old", timestamp=-1),
    bad("timestamp-2-hours-ahead", "timestamp_in_future", timestamp=now_ms() + 2 * HOUR_MS),
    bad("timestamp-year-2261", "timestamp_in_future", timestamp=9_200_000_000_000),
    PointCase(
        "timestamp-beyond-int64", raw_timestamp("100000000000000000000"), "timestamp_in_future"
    ),
    PointCase("timestamp-float", raw_timestamp("1700000000000.5"), "invalid_point"),
    bad("timestamp-boolean", "invalid_point", timestamp=True),
    bad("timestamp-null", "invalid_point", timestamp=None),
    bad("value-string", "invalid_point", value="1.0"),
    bad("value-boolean", "invalid_point", value=True),
    bad("value-null", "invalid_point", value=None),
    bad("value-list", "invalid_point", value=[1.0]),
    bad("name-number", "invalid_point", None, name=5),
    bad("name-null", "invalid_point", None, name=None),
    bad("dimensions-list", "invalid_point", dimensions=["host", "h1"]),
    bad("dimensions-null", "invalid_point", dimensions=None),
    bad("dimension-value-number", "invalid_point", dimensions={"host": 1}),
    bad("dimension-value-null", "invalid_point", dimensions={"host": None}),
    bad("dimension-value-object", "invalid_point", dimensions={"host": {"a": "b"}}),
    bad("unknown-field", "invalid_point", unit="ms"),
    bad("tenant-field", "invalid_point", tenant_id="someone-else"),
    PointCase("missing-name", lambda: dumps(without("name")), "invalid_point", None),
    PointCase("missing-timestamp", lambda: dumps(without("timestamp")), "invalid_point"),
    PointCase("missing-value", lambda: dumps(without("value")), "invalid_point"),
    PointCase("point-a-number", lambda: b"1", "invalid_point", None),
    PointCase("point-a-string", lambda: b'"probe"', "invalid_point", None),
    PointCase("point-null", lambda: b"null", "invalid_point", None),
    PointCase("point-a-list", lambda: b"[]", "invalid_point", None),
    PointCase("point-empty-object", lambda: b"{}", "invalid_point", None),
    PointCase(
        "nested-100-in-a-dimension",
        lambda: dumps(point(dimensions={})).replace(b"{}", nested(100)),
        "invalid_point",
    ),
]


def accepted_variants() -> list[tuple[str, dict[str, Any], int]]:
    """(id, point, stored timestamp) of points that look odd but are valid."""
    t = now_ms() - 5 * 60_000
    return [
        ("rfc3339-utc", point(timestamp=rfc3339(t), value=1.0), t),
        ("rfc3339-lower-case", point(timestamp=rfc3339(t + 1).replace("T", "t"), value=2.0), t + 1),
        ("rfc3339-plus-2h", point(timestamp=rfc3339(t + 2, 2), value=3.0), t + 2),
        ("rfc3339-minus-5h", point(timestamp=rfc3339(t + 3, -5), value=4.0), t + 3),
        ("rfc3339-nanoseconds", point(timestamp=rfc3339(t + 4)[:-6] + "456789Z", value=5.0), t + 4),
        ("epoch-ms-as-string", point(timestamp=str(t + 5), value=6.0), t + 5),
        ("integer-value", point(timestamp=t + 6, value=7), t + 6),
        ("negative-value", point(timestamp=t + 7, value=-8.5), t + 7),
        ("largest-finite-value", point(timestamp=t + 8, value=1.5e308), t + 8),
        (
            "no-dimensions",
            {k: v for k, v in point(timestamp=t + 9, value=9.0).items() if k != "dimensions"},
            t + 9,
        ),
        ("empty-dimensions", point(timestamp=t + 10, value=10.0, dimensions={}), t + 10),
        ("20-dimensions", point(timestamp=t + 11, value=11.0, dimensions=dims(20)), t + 11),
        (
            "key-128-value-256",
            point(timestamp=t + 12, value=12.0, dimensions={"k" * 128: "v" * 256}),
            t + 12,
        ),
        (
            "unicode-value",
            point(timestamp=t + 13, value=13.0, dimensions={"host": "ü-日本-🚀"}),
            t + 13,
        ),
        (
            "quote-and-backslash-value",
            point(timestamp=t + 14, value=14.0, dimensions={"q": "a'b\\c\"d"}),
            t + 14,
        ),
        ("59-minutes-ahead", point(timestamp=now_ms() + 59 * 60_000, value=15.0), -1),
        ("6-days-old", point(timestamp=now_ms() - 6 * DAY_MS, value=16.0), -1),
    ]
