"""Hostile and malformed writes over HTTP: every unusable body answers a precise status and
stable code and stores nothing; every bad point is reported with its per-point code; a mixed batch
stores exactly its valid points and lists every invalid one by index with its per-point code."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import pytest

from tests.app.bad_bodies import WHOLE_BODY, Rejection
from tests.app.bad_points import POINT_CASES, PointCase, accepted_variants
from tests.app.bodies import (
    assert_nothing_stored,
    good,
    metrics_body,
    post,
    stored_metrics,
    write,
    zstd,
)
from tests.app.inprocess import InProcessApp
from tests.support.clock import now_ms
from tests.support.errors import assert_error
from tests.support.points import DAY_MS, HOUR_MS, PROBE, dumps
from tests.support.tenants import new_tenant

# -- whole-body rejections ----------------------------------------------------------------------


@pytest.mark.parametrize("case", WHOLE_BODY, ids=lambda c: c.id)
def test_an_unusable_body_is_rejected_and_stores_nothing(
    server: InProcessApp, case: Rejection
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
    server: InProcessApp, encode: Callable[[bytes], bytes], encoding: str
) -> None:
    """Controls for the rejections above: the same body, well encoded, is stored."""
    tenant = new_tenant()
    resp = write(server, tenant, encode(metrics_body(good())), {"Content-Encoding": encoding})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"accepted": 1, "rejected": 0, "errors": []}
    assert stored_metrics(server, tenant) == {PROBE: 1}


# -- point by point -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", POINT_CASES, ids=lambda c: c.id)
def test_a_single_bad_point_is_reported_and_nothing_is_stored(
    server: InProcessApp, case: PointCase
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


def test_a_mixed_batch_stores_the_valid_points_and_lists_the_invalid_ones(
    server: InProcessApp,
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
