"""Fuzzing a served process.

Schemathesis drives every operation of /openapi.json with generated requests, valid and
invalid, and checks each answer against the document: never a 5xx, a documented status, the
documented media type, headers and body schema. Then the hostile bodies of tests/e2e/hostile.py
(decompression bombs, a million keys, deep nesting, broken UTF-8, giant numbers, huge strings)
go to the write, query and admin endpoints: each is answered with a 4xx and a stable code, and
the process keeps answering."""

from __future__ import annotations

import io
import zlib
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
from tests.e2e.hostile import (
    GIB,
    HOSTILE,
    MIB,
    QUERY_BODY_LIMIT,
    TIMEOUT_S,
    WRITE,
    WRITE_BODY_LIMIT,
    Hostile,
    assert_alive,
    check_answer,
    gzip_60mib,
    gzip_gib,
    zstd_gib,
)
from tests.e2e.server import LuminateProcess
from tests.support.clock import now_ms

# -- generated requests -------------------------------------------------------------------------

# Bounded so the file runs in about a minute on two cores: a few dozen generated cases per
# operation plus schemathesis' boundary ("coverage") cases; no example database on disk.
FUZZ_CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": 25, "mode": "all", "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }
)
# remote_write and OTLP take protobuf: generated binary strings are sent as they are.
schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")
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


def test_hostile_bodies_fit_their_limits() -> None:
    """The premises of the hostile cases: the bombs pass the door on the wire (so the 413 comes
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
