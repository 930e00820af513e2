"""remote_write requests, good and bad: what is stored, what each mistake answers (plain text,
as Prometheus' senders log it), and that an undecodable body stores nothing."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pytest

from tests.protocols.conftest import Stack
from tests.protocols.remote_write import STALE_NAN, push, request, snappy

pytestmark = pytest.mark.e2e


def now_ms() -> int:
    return int(time.time() * 1000)


def stored(stack: Stack, tenant: str, selector: str) -> list[dict[str, Any]]:
    """Every raw sample of the selector's series in the last hour, via the JSON query API
    would need a metric name; the Prometheus API's count_over_time counts them all."""
    r = httpx.get(
        f"{stack.luminate.url}/prometheus/api/v1/query",
        params={"query": f"count_over_time({selector}[1h])", "time": str(time.time() + 1)},
        headers=stack.luminate.headers(tenant, "read"),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["data"]["result"])


def count(stack: Stack, tenant: str, selector: str) -> int:
    return int(sum(float(row["value"][1]) for row in stored(stack, tenant, selector)))


def test_samples_are_stored_with_their_labels(stack: Stack) -> None:
    tenant = "rw-good"
    t = now_ms()
    body = request(
        [
            (
                [("__name__", "jobs_done"), ("queue", "a"), ("host", "h1")],
                [(t - 2000, 1), (t - 1000, 2)],
            ),
            ([("__name__", "jobs_done"), ("queue", "b")], [(t - 1000, 5)]),
        ]
    )
    r = push(stack.luminate.url, stack.luminate.token(tenant, "write"), snappy(body))
    assert r.status_code == 204, r.text
    assert count(stack, tenant, "jobs_done") == 3
    series = {tuple(sorted(row["metric"].items())) for row in stored(stack, tenant, "jobs_done")}
    assert series == {(("host", "h1"), ("queue", "a")), (("queue", "b"),)}


def test_stale_markers_are_accepted_and_not_stored(stack: Stack) -> None:
    tenant = "rw-stale"
    t = now_ms()
    body = request([([("__name__", "gone")], [(t - 2000, 7.0), (t - 1000, STALE_NAN)])])
    r = push(stack.luminate.url, stack.luminate.token(tenant, "write"), snappy(body))
    assert r.status_code == 204, r.text
    assert count(stack, tenant, "gone") == 1
    only_stale = request([([("__name__", "gone")], [(t, STALE_NAN)])])
    r = push(stack.luminate.url, stack.luminate.token(tenant, "write"), snappy(only_stale))
    assert r.status_code == 204
    assert count(stack, tenant, "gone") == 1


BAD_SERIES = [
    ([("__name__", "ok_metric"), ("bad-label", "x")], "invalid_dimension_key"),
    ([("__name__", "ok_metric"), ("empty", "")], "invalid_dimension_value"),
    ([("__name__", "ok_metric"), ("dup", "1"), ("dup", "2")], "invalid_dimension_key"),
    ([("job", "no-name")], "invalid_metric_name"),
    ([("__name__", "job:rate5m")], "invalid_metric_name"),
    ([("__name__", "ok_metric"), ("v", "x" * 300)], "invalid_dimension_value"),
]


@pytest.mark.parametrize(("labels", "code"), BAD_SERIES)
def test_a_bad_series_is_named_and_the_good_one_stored(
    stack: Stack, labels: list[tuple[str, str]], code: str
) -> None:
    """As Mimir: the valid series are stored, the answer is 400 naming the first bad one."""
    tenant = f"rw-mixed-{code}-{len(labels)}-{len(labels[-1][1])}"
    t = now_ms()
    body = request([([("__name__", "good_one")], [(t, 1.0)]), (labels, [(t, 2.0)])])
    r = push(stack.luminate.url, stack.luminate.token(tenant, "write"), snappy(body))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("samples_rejected: 1 of 2 samples rejected; first: sample 1")
    assert code in r.text
    assert count(stack, tenant, "good_one") == 1


@pytest.mark.parametrize(
    ("value", "offset_ms", "code"),
    [
        (math.nan, 0, "non_finite_value"),
        (math.inf, 0, "non_finite_value"),
        (1.0, -8 * 86_400_000, "timestamp_too_old"),
        (1.0, 2 * 3_600_000, "timestamp_in_future"),
    ],
)
def test_bad_samples_are_refused_one_by_one(
    stack: Stack, value: float, offset_ms: int, code: str
) -> None:
    tenant = f"rw-samples-{code}-{value}"
    t = now_ms()
    body = request([([("__name__", "m")], [(t - 1000, 1.0), (t + offset_ms, value)])])
    r = push(stack.luminate.url, stack.luminate.token(tenant, "write"), snappy(body))
    assert r.status_code == 400, r.text
    assert code in r.text and "sample 1 of series" in r.text
    assert count(stack, tenant, "m") == 1


def test_every_sample_bad_answers_all_points_rejected(stack: Stack) -> None:
    body = request([([("__name__", "m")], [(now_ms(), math.nan)])])
    r = push(stack.luminate.url, stack.luminate.token("rw-allbad", "write"), snappy(body))
    assert r.status_code == 400
    assert r.text.startswith("all_points_rejected: 1 of 1 samples rejected")


def _bomb() -> bytes:
    """A snappy block that declares 1 GiB of content (its header varint) before any data."""
    size = 1 << 30
    header = bytearray()
    while True:
        byte = size & 0x7F
        size >>= 7
        header.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(header) + b"\x00" * 16


UNDECODABLE = [
    (
        "corrupt snappy",
        b"\xff\xff\xff\xff\xff not snappy",
        "snappy",
        400,
        "invalid_compressed_body",
    ),
    ("truncated protobuf", None, "snappy", 400, "invalid_body"),
    ("declared 1 GiB", _bomb(), "snappy", 413, "body_too_large"),
    ("64 MiB of zeros", snappy(b"\0" * (64 << 20)), "snappy", 413, "body_too_large"),
    ("no snappy", b"", "", 415, "unsupported_content_encoding"),
    ("gzip", b"", "gzip", 415, "unsupported_content_encoding"),
]


@pytest.mark.parametrize(("what", "body", "encoding", "status", "code"), UNDECODABLE)
def test_an_undecodable_body_stores_nothing(
    stack: Stack, what: str, body: bytes | None, encoding: str, status: int, code: str
) -> None:
    tenant = "rw-undecodable"
    if body is None:
        whole = request([([("__name__", "cut")], [(now_ms(), float(i)) for i in range(50)])])
        body = snappy(whole[: len(whole) // 2])
    r = push(stack.luminate.url, stack.luminate.token(tenant, "write"), body, encoding)
    assert r.status_code == status, r.text
    assert r.text.startswith(f"{code}: ")
    assert count(stack, tenant, '{__name__=~".+"}') == 0


def test_tokens_and_scopes_apply(stack: Stack) -> None:
    body = snappy(request([([("__name__", "m")], [(now_ms(), 1.0)])]))
    assert push(stack.luminate.url, "not-a-token", body).status_code == 401
    r = push(stack.luminate.url, stack.luminate.token("rw-scope", "read"), body)
    assert r.status_code == 403 and r.text.startswith("insufficient_scope: ")


def test_a_resent_request_is_stored_once(stack: Stack) -> None:
    """Prometheus resends a batch whose answer it did not see; the second copy is not stored."""
    tenant = "rw-resend"
    t = now_ms()
    body = snappy(request([([("__name__", "resent")], [(t - 3000, 1), (t - 2000, 2)])]))
    for _ in range(3):
        r = push(stack.luminate.url, stack.luminate.token(tenant, "write"), body)
        assert r.status_code == 204, r.text
    assert count(stack, tenant, "resent") == 2
    other = snappy(request([([("__name__", "resent")], [(t - 1000, 3)])]))
    assert push(stack.luminate.url, stack.luminate.token(tenant, "write"), other).status_code == 204
    assert count(stack, tenant, "resent") == 3
