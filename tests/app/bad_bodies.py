"""Write bodies that are unusable as a whole (malformed or mistyped JSON, deep nesting, broken
or mislabelled compression, unsupported encodings), each with the status and code it must get."""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from tests.app.bodies import (
    Body,
    good,
    metrics_body,
    nested,
    truncated_zstd_of_a_complete_document,
    zstd,
)
from tests.support.clock import now_ms
from tests.support.points import dumps, point


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
