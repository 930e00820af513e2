"""Size and count limits of a request body over HTTP: a body one byte or one point over the
limit, a compression bomb or a chunked body past it is refused with its code and stores nothing;
a body exactly at a limit is stored whole."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator

import pytest

from tests.app.bad_bodies import GZIP, ZSTD, Rejection
from tests.app.bodies import (
    SMALL_BODY_LIMIT,
    SMALL_POINTS_LIMIT,
    Body,
    assert_nothing_stored,
    count,
    good,
    metrics_body,
    padded,
    post,
    write,
    zstd,
)
from tests.app.inprocess import InProcessApp
from tests.support.errors import assert_error
from tests.support.points import PROBE, dumps
from tests.support.tenants import new_tenant


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
    limited: InProcessApp, case: Rejection
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


def test_a_chunked_body_over_the_limit_is_rejected(limited: InProcessApp) -> None:
    tenant = new_tenant()
    resp = write(limited, tenant, chunks(padded(2 * SMALL_BODY_LIMIT)))
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
    limited: InProcessApp, make: Body, headers: dict[str, str] | None, points: int
) -> None:
    tenant = new_tenant()
    resp = write(limited, tenant, make(), headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == points
    assert count(limited, tenant) == points


def test_a_query_body_over_the_limit_is_rejected(limited: InProcessApp) -> None:
    query = {"queryType": "range", "metricName": PROBE, "timeRange": {"relative": "1h"}}
    raw = dumps(query)
    body = raw[:-1] + b" " * SMALL_BODY_LIMIT + b"}"
    assert_error(post(limited, "/api/v1/query", new_tenant(), body), 413, "body_too_large")
