"""Fuzzing a served process.

Schemathesis drives every operation of /openapi.json with generated requests, valid and
invalid, and checks each answer against the document: never a 5xx, a documented status, the
documented media type, headers and body schema. Then a set of hostile bodies (decompression
bombs, a million keys, deep nesting, broken UTF-8, giant numbers, huge strings) goes to the
write, query and admin endpoints: each is answered with a 4xx and a stable code, the process
keeps answering, and repeating the set does not grow its memory."""

from __future__ import annotations

import functools
import io
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import zstandard
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from luminate.http.openapi import build_document
from tests.e2e.bodies import TIMEOUT_S, now_ms
from tests.e2e.server import LuminateProcess

# -- generated requests -------------------------------------------------------------------------

# Bounded so the file runs in about a minute on two cores: a few dozen generated cases per
# operation plus schemathesis' boundary ("coverage") cases; no example database on disk.
FUZZ_CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": 25, "mode": "all", "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }
)
SCHEMA = schemathesis.openapi.from_dict(build_document(), config=FUZZ_CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_TENANT = "fuzz"


@pytest.fixture(scope="module")
def fuzz_headers(server: LuminateProcess) -> dict[str, str]:
    """The fuzzing token, for a tenant holding recent points of the metrics the document's
    examples query, so those examples answer with rows to check."""
    headers = server.headers(FUZZ_TENANT, "read,write,admin")
    start = now_ms() - 20 * 60_000
    points = [
        {
            "name": name,
            "timestamp": start + i * 15_000,
            "value": float(i % 7),
            "dimensions": {"customer_id": "cust_1", "endpoint": endpoint},
        }
        for name in ("api_latency", "api_requests")
        for endpoint in ("/checkout", "/search")
        for i in range(80)
    ]
    resp = httpx.post(
        server.url + "/api/v1/write", headers=headers, json={"metrics": points}, timeout=TIMEOUT_S
    )
    assert resp.status_code == 200, resp.text
    return headers


@SCHEMA.parametrize()
@hypothesis.settings(deadline=timedelta(seconds=10))
def test_generated_requests_get_documented_answers(
    case: schemathesis.Case[Any], server: LuminateProcess, fuzz_headers: dict[str, str]
) -> None:
    case.call_and_validate(
        base_url=server.url, headers=fuzz_headers, checks=CHECKS, timeout=TIMEOUT_S
    )


# -- hostile bodies -----------------------------------------------------------------------------

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


def test_hostile_bodies_fit_their_limits() -> None:
    """The premises of the cases above: the bombs pass the door on the wire (so the 413 comes
    from the bounded decompression) and inflate to zeros; what is meant to reach a parser fits
    its endpoint's limit."""
    assert len(gzip_gib()) < WRITE_BODY_LIMIT
    assert len(zstd_gib()) < QUERY_BODY_LIMIT
    assert len(gzip_60mib()) < QUERY_BODY_LIMIT
    for bomb in (gzip_gib(), gzip_60mib()):
        assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(bomb, MIB) == bytes(MIB)
    head = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(zstd_gib())).read(MIB)
    assert head.count(0) == len(head) > 0
    assert zstandard.frame_content_size(zstd_gib()) == GIB
    for case in HOSTILE:
        limit = WRITE_BODY_LIMIT if case.path == WRITE else QUERY_BODY_LIMIT
        if case.code != "body_too_large":
            assert len(case.body()) <= limit, case.id


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.id)
def test_a_hostile_body_gets_a_4xx_and_a_stable_code(
    server: LuminateProcess, fuzz_headers: dict[str, str], case: Hostile
) -> None:
    check_answer(case, case.send(server, fuzz_headers))
    assert_alive(server)


def resident_bytes(proc: LuminateProcess) -> int:
    text = httpx.get(proc.url + "/metrics", timeout=TIMEOUT_S).text
    match = re.search(r"^process_resident_memory_bytes ([0-9.e+]+)$", text, flags=re.MULTILINE)
    assert match, "process_resident_memory_bytes missing from /metrics"
    return int(float(match.group(1)))


ROUNDS = 4
GROWTH_BOUND = 50 * MIB


def test_repeated_hostile_bodies_do_not_grow_memory(
    start_server: Callable[..., LuminateProcess],
) -> None:
    """Retaining any of the large bodies (10 to 14 MB each) once per round would cross the bound
    within the later rounds; allocator warm-up settles in the first."""
    proc = start_server()
    headers = proc.headers("memory", "read,write,admin")
    bodies = [(case, case.body()) for case in HOSTILE]
    rss = []
    for _ in range(ROUNDS):
        for case, body in bodies:
            check_answer(case, case.send(proc, headers, body))
        assert_alive(proc)
        rss.append(resident_bytes(proc))
    # The first round warms up (allocator arenas, caches, the engine); later rounds must not
    # add to it.
    growth = max(rss[1:]) - rss[0]
    report = json.dumps([round(r / MIB, 1) for r in rss])
    assert growth < GROWTH_BOUND, f"resident MiB per round: {report}"
