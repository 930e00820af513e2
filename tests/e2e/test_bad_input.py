"""Hostile and malformed input over HTTP: every bad write or query answers a precise status and
stable code; a rejected write stores nothing; a mixed batch stores exactly its valid points and
lists every invalid one by index with its per-point code."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest.mock import ANY

import pytest

from tests.e2e.bodies import (
    DAY_MS,
    HOUR_MS,
    PROBE,
    SMALL_BODY_LIMIT,
    SMALL_POINTS_LIMIT,
    Body,
    assert_error,
    assert_nothing_stored,
    count,
    dims,
    dumps,
    good,
    metrics_body,
    nested,
    new_tenant,
    now_ms,
    padded,
    point,
    post,
    rfc3339,
    stored_metrics,
    truncated_zstd_of_a_complete_document,
    without,
    write,
    zstd,
)
from tests.e2e.server import LuminateProcess

# -- whole-body rejections ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    id: str
    body: Body
    status: int
    code: str
    headers: dict[str, str] | None = None


def gz(make: Body) -> Body:
    return lambda: gzip.compress(make())


GZIP = {"Content-Encoding": "gzip"}
ZSTD = {"Content-Encoding": "zstd"}


def nan_point(literal: bytes) -> bytes:
    return b'{"name":"probe","timestamp":%d,"value":%s}' % (now_ms(), literal)


WHOLE_BODY: list[Rejection] = [
    Rejection("truncated-json", lambda: metrics_body(good())[:-3], 400, "malformed_json"),
    Rejection("trailing-garbage", lambda: metrics_body(good()) + b" x", 400, "malformed_json"),
    Rejection("two-documents", lambda: metrics_body(good()) * 2, 400, "malformed_json"),
    Rejection("trailing-comma", lambda: metrics_body(good(), b""), 400, "malformed_json"),
    Rejection("single-quotes", lambda: b"{'metrics': []}", 400, "malformed_json"),
    Rejection("empty-body", lambda: b"", 400, "malformed_json"),
    Rejection("whitespace-body", lambda: b" \n\t ", 400, "malformed_json"),
    Rejection(
        "NaN-literal", lambda: metrics_body(good(), nan_point(b"NaN")), 400, "malformed_json"
    ),
    Rejection(
        "Infinity-literal",
        lambda: metrics_body(good(), nan_point(b"Infinity")),
        400,
        "malformed_json",
    ),
    Rejection(
        "minus-Infinity-literal",
        lambda: metrics_body(good(), nan_point(b"-Infinity")),
        400,
        "malformed_json",
    ),
    Rejection(
        "invalid-utf8-in-name",
        lambda: metrics_body(good(), good().replace(b'"probe"', b'"pro\xffbe"')),
        400,
        "malformed_json",
    ),
    Rejection(
        "invalid-utf8-in-dimension-value",
        lambda: metrics_body(good(), good().replace(b'"h1"', b'"h\xc3\x28"')),
        400,
        "malformed_json",
    ),
    Rejection(
        "utf16-body", lambda: metrics_body(good()).decode().encode("utf-16"), 400, "malformed_json"
    ),
    Rejection("json-null", lambda: b"null", 400, "invalid_body"),
    Rejection("json-string", lambda: b'"metrics"', 400, "invalid_body"),
    Rejection("json-array-of-points", lambda: b"[" + good() + b"]", 400, "invalid_body"),
    Rejection("a-single-point", good, 400, "invalid_body"),
    Rejection("missing-metrics", lambda: b"{}", 400, "invalid_body"),
    Rejection("metrics-null", lambda: b'{"metrics":null}', 400, "invalid_body"),
    Rejection("metrics-an-object", lambda: b'{"metrics":' + good() + b"}", 400, "invalid_body"),
    Rejection("metrics-empty", lambda: b'{"metrics":[]}', 400, "invalid_body"),
    Rejection(
        "unknown-top-level-field",
        lambda: metrics_body(good())[:-1] + b',"source":"agent"}',
        400,
        "invalid_body",
    ),
    Rejection("nested-100-arrays", lambda: nested(100), 400, "invalid_body"),
    Rejection("nested-10000-arrays", lambda: nested(10_000), 400, "invalid_body"),
    Rejection(
        "nested-10000-objects",
        lambda: b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        400,
        "invalid_body",
    ),
    Rejection(
        "nested-10000-in-metrics",
        lambda: metrics_body(good(), nested(10_000)),
        400,
        "invalid_body",
    ),
    Rejection(
        "nested-10000-in-a-dimension",
        lambda: metrics_body(good(), dumps(point(dimensions={})).replace(b"{}", nested(10_000))),
        400,
        "invalid_body",
    ),
    Rejection("gzip-garbage", lambda: b"this is not gzip", 400, "invalid_compressed_body", GZIP),
    Rejection(
        "gzip-truncated",
        lambda: gzip.compress(metrics_body(good()))[:-8],
        400,
        "invalid_compressed_body",
        GZIP,
    ),
    Rejection(
        "plain-json-labelled-gzip",
        lambda: metrics_body(good()),
        400,
        "invalid_compressed_body",
        GZIP,
    ),
    Rejection("zstd-garbage", lambda: b"this is not zstd", 400, "invalid_compressed_body", ZSTD),
    Rejection(
        "zstd-truncated",
        lambda: zstd(metrics_body(good()))[:-4],
        400,
        "invalid_compressed_body",
        ZSTD,
    ),
    Rejection(
        "zstd-truncated-after-a-complete-document",
        truncated_zstd_of_a_complete_document,
        400,
        "invalid_compressed_body",
        ZSTD,
    ),
    Rejection(
        "plain-json-labelled-zstd",
        lambda: metrics_body(good()),
        400,
        "invalid_compressed_body",
        ZSTD,
    ),
    Rejection(
        "gzip-labelled-zstd",
        gz(lambda: metrics_body(good())),
        400,
        "invalid_compressed_body",
        ZSTD,
    ),
    Rejection(
        "encoding-br",
        lambda: metrics_body(good()),
        415,
        "unsupported_content_encoding",
        {"Content-Encoding": "br"},
    ),
    Rejection(
        "encoding-deflate",
        lambda: metrics_body(good()),
        415,
        "unsupported_content_encoding",
        {"Content-Encoding": "deflate"},
    ),
    Rejection(
        "encoding-compress",
        lambda: metrics_body(good()),
        415,
        "unsupported_content_encoding",
        {"Content-Encoding": "compress"},
    ),
    Rejection(
        "encoding-gzip-then-br",
        gz(lambda: metrics_body(good())),
        415,
        "unsupported_content_encoding",
        {"Content-Encoding": "gzip, br"},
    ),
]


@pytest.mark.parametrize("case", WHOLE_BODY, ids=lambda c: c.id)
def test_an_unusable_body_is_rejected_and_stores_nothing(
    server: LuminateProcess, case: Rejection
) -> None:
    tenant = new_tenant()
    resp = write(server, tenant, case.body(), case.headers)
    body = assert_error(resp, case.status, case.code)
    assert set(body) == {"error"}
    assert_nothing_stored(server, tenant)


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        pytest.param(lambda b: b, "identity", id="identity"),
        pytest.param(gzip.compress, "gzip", id="gzip"),
        pytest.param(gzip.compress, "x-gzip", id="x-gzip"),
        pytest.param(gzip.compress, "GZIP", id="gzip-upper-case"),
        pytest.param(zstd, "zstd", id="zstd"),
        pytest.param(lambda b: zstd(b, content_size=False), "zstd", id="zstd-no-content-size"),
        pytest.param(
            lambda b: gzip.compress(b[:20]) + gzip.compress(b[20:]), "gzip", id="gzip-two-members"
        ),
        pytest.param(lambda b: zstd(b[:20]) + zstd(b[20:]), "zstd", id="zstd-two-frames"),
    ],
)
def test_supported_encodings_are_accepted(
    server: LuminateProcess, encode: Callable[[bytes], bytes], encoding: str
) -> None:
    """Controls for the rejections above: the same body, well encoded, is stored."""
    tenant = new_tenant()
    resp = write(server, tenant, encode(metrics_body(good())), {"Content-Encoding": encoding})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"accepted": 1, "rejected": 0, "errors": []}
    assert stored_metrics(server, tenant) == {PROBE: 1}


# -- size and count limits ----------------------------------------------------------------------


def bomb(compress: Callable[[bytes], bytes]) -> Body:
    """A valid body padded with 1 MiB of whitespace: a few KiB compressed, 16x the limit."""
    return lambda: compress(padded(SMALL_BODY_LIMIT) + b" " * (1 << 20))


def chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


LIMITS: list[Rejection] = [
    Rejection(
        "identity-one-byte-over", lambda: padded(SMALL_BODY_LIMIT + 1), 413, "body_too_large"
    ),
    Rejection("identity-4x-over", lambda: padded(4 * SMALL_BODY_LIMIT), 413, "body_too_large"),
    Rejection("gzip-bomb", bomb(gzip.compress), 413, "body_too_large", GZIP),
    Rejection(
        "gzip-inflating-one-byte-over",
        lambda: gzip.compress(padded(SMALL_BODY_LIMIT + 1)),
        413,
        "body_too_large",
        GZIP,
    ),
    Rejection("zstd-bomb", bomb(zstd), 413, "body_too_large", ZSTD),
    Rejection(
        "zstd-bomb-without-content-size",
        bomb(lambda b: zstd(b, content_size=False)),
        413,
        "body_too_large",
        ZSTD,
    ),
    Rejection(
        "one-point-too-many",
        lambda: metrics_body(*[good()] * (SMALL_POINTS_LIMIT + 1)),
        400,
        "too_many_points",
    ),
    Rejection(
        "one-point-too-many-some-invalid",
        lambda: metrics_body(*[good()] * SMALL_POINTS_LIMIT, b"1"),
        400,
        "too_many_points",
    ),
]


@pytest.mark.parametrize("case", LIMITS, ids=lambda c: c.id)
def test_over_a_limit_is_rejected_and_stores_nothing(
    limited: LuminateProcess, case: Rejection
) -> None:
    tenant = new_tenant()
    body = assert_error(write(limited, tenant, case.body(), case.headers), case.status, case.code)
    if case.code == "body_too_large":
        assert body["error"]["details"] == {
            "limit_bytes": SMALL_BODY_LIMIT,
            "setting": "LUMINATE_WRITE_MAX_BODY_BYTES",
        }
    else:
        assert body["error"]["details"] == {
            "points": SMALL_POINTS_LIMIT + 1,
            "limit": SMALL_POINTS_LIMIT,
        }
    assert_nothing_stored(limited, tenant)


def test_a_chunked_body_over_the_limit_is_rejected(limited: LuminateProcess) -> None:
    tenant = new_tenant()
    resp = write(limited, tenant, chunks(padded(2 * SMALL_BODY_LIMIT)))  # type: ignore[arg-type]
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert_error(resp, 413, "body_too_large")
    assert_nothing_stored(limited, tenant)


@pytest.mark.parametrize(
    ("make", "headers", "points"),
    [
        pytest.param(lambda: padded(SMALL_BODY_LIMIT), None, 1, id="body-exactly-at-limit"),
        pytest.param(
            lambda: gzip.compress(padded(SMALL_BODY_LIMIT)), GZIP, 1, id="gzip-inflating-to-limit"
        ),
        pytest.param(lambda: zstd(padded(SMALL_BODY_LIMIT)), ZSTD, 1, id="zstd-inflating-to-limit"),
        pytest.param(
            lambda: metrics_body(*[good()] * SMALL_POINTS_LIMIT),
            None,
            SMALL_POINTS_LIMIT,
            id="points-exactly-at-limit",
        ),
    ],
)
def test_exactly_at_a_limit_is_accepted(
    limited: LuminateProcess, make: Body, headers: dict[str, str] | None, points: int
) -> None:
    tenant = new_tenant()
    resp = write(limited, tenant, make(), headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == points
    assert count(limited, tenant) == points


def test_a_query_body_over_the_limit_is_rejected(limited: LuminateProcess) -> None:
    query = {"queryType": "range", "metricName": PROBE, "timeRange": {"relative": "1h"}}
    raw = dumps(query)
    body = raw[:-1] + b" " * SMALL_BODY_LIMIT + b"}"
    assert_error(post(limited, "/api/v1/query", new_tenant(), body), 413, "body_too_large")


# -- point by point -----------------------------------------------------------------------------


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


@pytest.mark.parametrize("case", POINT_CASES, ids=lambda c: c.id)
def test_a_single_bad_point_is_reported_and_nothing_is_stored(
    server: LuminateProcess, case: PointCase
) -> None:
    tenant = new_tenant()
    resp = write(server, tenant, metrics_body(case.raw()))
    body = assert_error(resp, 400, "all_points_rejected")
    assert body["accepted"] == 0
    assert body["rejected"] == 1
    assert body["errors"] == [
        {"index": 0, "metric": case.metric, "error": {"code": case.code, "message": ANY}}
    ]
    assert body["errors"][0]["error"]["message"]
    assert_nothing_stored(server, tenant)


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


def test_a_mixed_batch_stores_the_valid_points_and_lists_the_invalid_ones(
    server: LuminateProcess,
) -> None:
    tenant = new_tenant()
    valid = accepted_variants()
    fragments: list[bytes] = []
    expected_errors: list[dict[str, Any]] = []
    for i in range(max(len(valid), len(POINT_CASES))):
        if i < len(POINT_CASES):
            case = POINT_CASES[i]
            expected_errors.append(
                {
                    "index": len(fragments),
                    "metric": case.metric,
                    "error": {"code": case.code, "message": ANY},
                }
            )
            fragments.append(case.raw())
        if i < len(valid):
            fragments.append(dumps(valid[i][1]))

    resp = write(server, tenant, metrics_body(*fragments))
    assert resp.status_code == 207, resp.text
    body = resp.json()
    assert set(body) == {"accepted", "rejected", "errors"}
    assert body["accepted"] == len(valid)
    assert body["rejected"] == len(POINT_CASES)
    assert body["errors"] == expected_errors

    assert stored_metrics(server, tenant) == {PROBE: len(valid)}
    resp = post(
        server,
        "/api/v1/query",
        tenant,
        dumps(
            {
                "queryType": "range",
                "metricName": PROBE,
                "timeRange": {"start": now_ms() - 8 * DAY_MS, "end": now_ms() + 2 * HOUR_MS},
            }
        ),
    )
    assert resp.status_code == 200, resp.text
    stored = {r["value"]: r for r in resp.json()["results"]}
    assert set(stored) == {float(p["value"]) for _, p, _ in valid}
    for case_id, p, ts in valid:
        got = stored[float(p["value"])]
        assert got["dimensions"] == p.get("dimensions", {}), case_id
        if ts >= 0:
            assert got["timestamp"] == ts, case_id
