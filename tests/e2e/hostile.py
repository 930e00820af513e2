"""Hostile request bodies for the write, query and admin endpoints: decompression bombs, a
million keys, deep nesting, broken UTF-8, giant numbers and huge strings, each with the status
and stable error code it must be answered with, and the checks of such an answer."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
import zstandard

from tests.e2e.server import LuminateProcess
from tests.support.clock import now_ms

TIMEOUT_S = 60.0
WRITE = "/api/v1/write"
QUERY = "/api/v1/query"
RETENTION = "/api/v1/admin/retention"
GIB = 1 << 30
MIB = 1 << 20
# The default body limits (LUMINATE_WRITE_MAX_BODY_BYTES, LUMINATE_QUERY_MAX_BODY_BYTES). Query
# and admin bodies over 64 KiB are refused at the door, whatever they hold; writes reach the
# decompressor and the parser.
WRITE_BODY_LIMIT = 16 * MIB
QUERY_BODY_LIMIT = 64 * 1024


@functools.cache
def gzip_zeros(size: int, level: int) -> bytes:
    """`size` zero bytes in one gzip member, compressed a MiB at a time."""
    c = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    parts = [c.compress(block) for _ in range(size // MIB)]
    return b"".join([*parts, c.flush()])


def gzip_gib() -> bytes:
    # Level 1 builds in a second and a half; 4.5 MB still passes the write limit on the wire.
    return gzip_zeros(GIB, 1)


def gzip_60mib() -> bytes:
    # Deflate inflates at most ~1000:1, so this (about 60 KB) is the largest bomb that passes
    # the 64 KiB door of the query and admin endpoints.
    return gzip_zeros(60 * MIB, 9)


@functools.cache
def zstd_gib() -> bytes:
    """1 GiB of zero bytes in one zstd frame (about 32 KB) that declares its size."""
    c = zstandard.ZstdCompressor(level=1).compressobj(size=GIB)
    block = bytes(MIB)
    parts = [c.compress(block) for _ in range(GIB // MIB)]
    return b"".join([*parts, c.flush()])


def many_keys(n: int, value: bytes = b"0") -> bytes:
    return b"{" + b",".join(b'"k%d":%s' % (i, value) for i in range(n)) + b"}"


def arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def raw_point(
    name: bytes = b'"probe"',
    timestamp: bytes | None = None,
    value: bytes = b"1",
    dimensions: bytes = b'{"host":"h1"}',
) -> bytes:
    ts = timestamp if timestamp is not None else str(now_ms() - 60_000).encode()
    return b'{"name":%s,"timestamp":%s,"value":%s,"dimensions":%s}' % (
        name,
        ts,
        value,
        dimensions,
    )


def write_body(*points: bytes) -> bytes:
    return b'{"metrics":[' + b",".join(points) + b"]}"


def query_body(**raw: bytes) -> bytes:
    """A valid range query with some fields replaced by raw JSON text."""
    fields = {
        "queryType": b'"range"',
        "metricName": b'"probe"',
        "timeRange": b'{"relative":"1h"}',
        **raw,
    }
    return b"{" + b",".join(b'"%s":%s' % (k.encode(), v) for k, v in fields.items()) + b"}"


def retention_body(**raw: bytes) -> bytes:
    fields = {"days": b"7", **raw}
    return b"{" + b",".join(b'"%s":%s' % (k.encode(), v) for k, v in fields.items()) + b"}"


def string(n: int, char: bytes = b"a") -> bytes:
    return b'"' + char * n + b'"'


@dataclass(frozen=True)
class Hostile:
    id: str
    path: str
    body: Callable[[], bytes]
    status: int
    code: str
    point_code: str | None = None  # for a write answered all_points_rejected
    encoding: str | None = None

    def send(
        self, proc: LuminateProcess, headers: dict[str, str], body: bytes | None = None
    ) -> httpx.Response:
        extra = {"Content-Encoding": self.encoding} if self.encoding else {}
        try:
            return httpx.post(
                proc.url + self.path,
                headers={**headers, **extra},
                content=self.body() if body is None else body,
                timeout=TIMEOUT_S,
            )
        except httpx.TransportError as exc:
            pytest.fail(f"{self.id}: no answer ({type(exc).__name__}: {exc})")


def bombs(path: str) -> list[Hostile]:
    out = [
        Hostile(f"{path}:gzip-bomb-1gib", path, gzip_gib, 413, "body_too_large", None, "gzip"),
        Hostile(f"{path}:zstd-bomb-1gib", path, zstd_gib, 413, "body_too_large", None, "zstd"),
    ]
    if path != WRITE:
        out.append(
            Hostile(
                f"{path}:gzip-bomb-60mib", path, gzip_60mib, 413, "body_too_large", None, "gzip"
            )
        )
    return out


def refused_at_the_door(path: str) -> list[Hostile]:
    """Query and admin: bodies over their 64 KiB limit, whatever they hold."""
    return [
        Hostile(
            f"{path}:object-1m-keys", path, lambda: many_keys(1_000_000), 413, "body_too_large"
        ),
        Hostile(f"{path}:nested-100000", path, lambda: arrays(100_000), 413, "body_too_large"),
        Hostile(
            f"{path}:nested-objects-100000", path, lambda: objects(100_000), 413, "body_too_large"
        ),
    ]


def rejected(case_id: str, point: Callable[[], bytes], code: str) -> Hostile:
    """A write whose one point is refused with the per-point `code`."""
    return Hostile(
        f"{WRITE}:{case_id}", WRITE, lambda: write_body(point()), 400, "all_points_rejected", code
    )


HOSTILE: list[Hostile] = [
    # -- write
    *bombs(WRITE),
    Hostile(f"{WRITE}:object-1m-keys", WRITE, lambda: many_keys(1_000_000), 400, "invalid_body"),
    rejected(
        "dimensions-1m-keys",
        lambda: raw_point(dimensions=many_keys(1_000_000, b'"v"')),
        "too_many_dimensions",
    ),
    Hostile(f"{WRITE}:nested-100000", WRITE, lambda: arrays(100_000), 400, "invalid_body"),
    Hostile(
        f"{WRITE}:nested-objects-100000-in-metrics",
        WRITE,
        lambda: write_body(objects(100_000)),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{WRITE}:invalid-utf8-in-a-dimension-key",
        WRITE,
        lambda: write_body(raw_point(dimensions=b'{"ho\xffst":"h1"}')),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{WRITE}:overlong-utf8",
        WRITE,
        lambda: write_body(raw_point(name=b'"pro\xc0\xafbe"')),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{WRITE}:utf8-encoded-surrogate",
        WRITE,
        lambda: write_body(raw_point(name=b'"pro\xed\xa0\x80be"')),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{WRITE}:lone-surrogate-escape",
        WRITE,
        lambda: write_body(raw_point(name=b'"pro\\ud800be"')),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{WRITE}:utf8-cut-at-the-end",
        WRITE,
        lambda: write_body(raw_point())[:-2] + b"\xe2\x82",
        400,
        "malformed_json",
    ),
    rejected("value-10000-digits", lambda: raw_point(value=b"9" * 10_000), "non_finite_value"),
    rejected("value-exponent-1e9", lambda: raw_point(value=b"1e1000000000"), "non_finite_value"),
    rejected("timestamp-10000-digits", lambda: raw_point(timestamp=b"9" * 10_000), "invalid_point"),
    rejected("name-10-mib", lambda: raw_point(name=string(10 * MIB)), "invalid_metric_name"),
    rejected(
        "dimension-key-1-mib",
        lambda: raw_point(dimensions=b"{%s:%s}" % (string(MIB), b'"v"')),
        "invalid_dimension_key",
    ),
    rejected(
        "dimension-value-1-mib",
        lambda: raw_point(dimensions=b'{"host":%s}' % string(MIB)),
        "invalid_dimension_value",
    ),
    # -- query
    *bombs(QUERY),
    *refused_at_the_door(QUERY),
    Hostile(f"{QUERY}:nested-100", QUERY, lambda: arrays(100), 400, "invalid_body"),
    Hostile(
        f"{QUERY}:nested-100-in-filters",
        QUERY,
        lambda: query_body(filters=objects(100)),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{QUERY}:overlong-utf8",
        QUERY,
        lambda: query_body(metricName=b'"pro\xc0\xafbe"'),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{QUERY}:lone-surrogate-escape",
        QUERY,
        lambda: query_body(metricName=b'"pro\\udc00be"'),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{QUERY}:limit-10000-digits",
        QUERY,
        lambda: query_body(limit=b"9" * 10_000),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{QUERY}:limit-exponent-1e9",
        QUERY,
        lambda: query_body(limit=b"1e1000000000"),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{QUERY}:start-10000-digits",
        QUERY,
        lambda: query_body(timeRange=b'{"start":%s,"end":1}' % (b"9" * 10_000)),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{QUERY}:metric-name-60000-chars",
        QUERY,
        lambda: query_body(metricName=string(60_000)),
        400,
        "invalid_metric_name",
    ),
    Hostile(
        f"{QUERY}:interval-60000-digits",
        QUERY,
        lambda: query_body(queryType=b'"rate"', interval=string(60_000, b"9")),
        400,
        "invalid_duration",
    ),
    Hostile(
        f"{QUERY}:filter-value-60000-chars",
        QUERY,
        lambda: query_body(filters=b'{"host":%s}' % string(60_000)),
        400,
        "invalid_filter",
    ),
    # -- admin
    *bombs(RETENTION),
    *refused_at_the_door(RETENTION),
    Hostile(f"{RETENTION}:nested-100", RETENTION, lambda: arrays(100), 400, "invalid_body"),
    Hostile(
        f"{RETENTION}:nested-100-as-days",
        RETENTION,
        lambda: retention_body(days=arrays(100)),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{RETENTION}:overlong-utf8",
        RETENTION,
        lambda: retention_body(metricName=b'"pro\xc0\xafbe"'),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{RETENTION}:lone-surrogate-escape",
        RETENTION,
        lambda: retention_body(metricName=b'"\\ud800"'),
        400,
        "malformed_json",
    ),
    Hostile(
        f"{RETENTION}:days-10000-digits",
        RETENTION,
        lambda: retention_body(days=b"9" * 10_000),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{RETENTION}:days-exponent-1e9",
        RETENTION,
        lambda: retention_body(days=b"1e1000000000"),
        400,
        "invalid_body",
    ),
    Hostile(
        f"{RETENTION}:metric-name-60000-chars",
        RETENTION,
        lambda: retention_body(metricName=string(60_000)),
        400,
        "invalid_metric_name",
    ),
]


def check_answer(case: Hostile, resp: httpx.Response) -> None:
    assert resp.status_code == case.status, f"{case.id}: {resp.status_code} {resp.text[:500]}"
    assert resp.headers["content-type"] == "application/json", case.id
    body = resp.json()
    assert body["error"]["code"] == case.code, f"{case.id}: {body['error']}"
    assert set(body["error"]) == {"code", "message", "details"}, case.id
    if case.point_code is not None:
        assert body["accepted"] == 0, case.id
        assert [e["error"]["code"] for e in body["errors"]] == [case.point_code], case.id


def assert_alive(proc: LuminateProcess) -> None:
    assert proc.proc is not None
    assert proc.proc.poll() is None, "the server exited"
    resp = httpx.get(proc.url + "/healthz", timeout=TIMEOUT_S)
    assert resp.status_code == 200, resp.text
