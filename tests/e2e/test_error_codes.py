"""Every stable error code is reachable over HTTP: a table of requests that, together, produce
every `ErrorCode` and every per-point `PointErrorCode`, and a check that the codes observed are
exactly the documented ones minus those listed (with the reason) in UNREACHABLE_FROM_HTTP."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from luminate.auth.tokens import create_token
from luminate.errors import ErrorCode
from luminate.ingest.points import PointErrorCode
from tests.conftest import TEST_SECRET
from tests.e2e.bodies import SMALL_BODY_LIMIT, SMALL_POINTS_LIMIT, TINY_TIER
from tests.e2e.server import LuminateProcess

TIMEOUT_S = 120.0
QUERY_CONCURRENCY = 4  # the default LUMINATE_QUERY_CONCURRENCY: engine connections in the pool
LOAD_POINTS = 300_000
LOAD_BATCH = 50_000
LOAD_USERS = 50_000
LOAD_METRIC = "latency_ms"
LOAD_SPAN_MS = 3_000_000
DAY_MS = 86_400_000

UNREACHABLE_FROM_HTTP: dict[ErrorCode, str] = {
    ErrorCode.STORAGE_UNAVAILABLE: (
        "The embedded engine runs inside the server process. It raises StorageUnavailable only "
        "after an insert failed three times in a row or once the engine is closed, which "
        "happens after the listener has stopped. No request can cause either, and this build "
        "has no network backend that a test could take away."
    ),
    ErrorCode.INTERNAL_ERROR: (
        "Only for unexpected exceptions. The triggers found (bodies with invalid UTF-8 inside "
        "strings, a query on an engine connection that just timed out) are bugs with failing "
        "tests of their own; a correct build never answers it."
    ),
}

Observed = set[tuple[str, str]]
DOCUMENTED: Observed = {("error", c.value) for c in ErrorCode} | {
    ("point", c.value) for c in PointErrorCode
}
EXPECTED: Observed = DOCUMENTED - {("error", c.value) for c in UNREACHABLE_FROM_HTTP}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_tenant() -> str:
    return f"codes-{uuid.uuid4().hex[:12]}"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def point(**over: Any) -> dict[str, Any]:
    return {"name": "probe", "timestamp": now_ms() - 1000, "value": 1.0, **over}


def write_body(*points: dict[str, Any]) -> bytes:
    return dumps({"metrics": list(points)})


def query_body(**over: Any) -> bytes:
    body = {"queryType": "range", "metricName": "probe", "timeRange": {"relative": "1h"}}
    body.update(over)
    return dumps(body)


def observed_in(resp: httpx.Response) -> Observed:
    """("error", code) for the top-level error and ("point", code) for each per-point error."""
    body = resp.json()
    out: Observed = set()
    if "error" in body:
        out.add(("error", body["error"]["code"]))
    for e in body.get("errors", []):
        out.add(("point", e["error"]["code"]))
    return out


# -- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """The shared server, holding a high-cardinality tenant and a one-point tenant."""

    proc: LuminateProcess
    tenant: str
    start_ms: int
    small_tenant: str
    small_value: float


def _load_body(first: int, count: int, start_ms: int) -> bytes:
    rows = [
        f'{{"name":"{LOAD_METRIC}","timestamp":{start_ms + i * 10},"value":{i % 997}.5,'
        f'"dimensions":{{"user":"u{i % LOAD_USERS}"}}}}'
        for i in range(first, first + count)
    ]
    return ('{"metrics":[' + ",".join(rows) + "]}").encode()


@pytest.fixture(scope="module")
def loaded(server: LuminateProcess) -> Loaded:
    tenant, small_tenant = new_tenant(), new_tenant()
    start_ms = now_ms() - LOAD_SPAN_MS - 60_000
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for first in range(0, LOAD_POINTS, LOAD_BATCH):
            resp = client.post(
                f"{server.url}/api/v1/write",
                headers=server.headers(tenant, "write"),
                content=_load_body(first, LOAD_BATCH, start_ms),
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["accepted"] == LOAD_BATCH
        resp = client.post(
            f"{server.url}/api/v1/write",
            headers=server.headers(small_tenant, "write"),
            content=write_body(point(value=7.25)),
        )
        assert resp.status_code == 200, resp.text
    return Loaded(server, tenant, start_ms, small_tenant, 7.25)


def heavy_query(loaded: Loaded, aggregation: str) -> bytes:
    return dumps(
        {
            "queryType": "aggregate",
            "metricName": LOAD_METRIC,
            "aggregation": aggregation,
            "groupBy": ["user"],
            "timeRange": {"start": loaded.start_ms, "end": now_ms() + 1000},
            "limit": 100_000,
            "timeout": "1ms",
        }
    )


# -- probes -------------------------------------------------------------------------------------

Headers = Callable[[LuminateProcess, str], dict[str, str]]


def token(scopes: str = "read,write,admin") -> Headers:
    return lambda proc, tenant: proc.headers(tenant, scopes)


def tiny(scopes: str = "read,write") -> Headers:
    """A token of the `limited` server's tier of tiny limits."""

    def make(proc: LuminateProcess, tenant: str) -> dict[str, str]:
        t = create_token(
            TEST_SECRET,
            tenant=tenant,
            scopes=scopes.split(","),
            ttl_s=3600,
            extra={"tier": TINY_TIER},
        )
        return {"Authorization": f"Bearer {t}"}

    return make


Before = Callable[[LuminateProcess, dict[str, str]], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def stored_points(proc: LuminateProcess, headers: dict[str, str]) -> Iterator[None]:
    """Three stored points of `probe`, so a query reads more than one row."""
    body = write_body(point(value=1.0), point(value=2.0), point(value=3.0))
    resp = httpx.post(proc.url + "/api/v1/write", headers=headers, content=body, timeout=TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    yield


@contextlib.contextmanager
def query_in_flight(proc: LuminateProcess, headers: dict[str, str]) -> Iterator[None]:
    """A query of the same tenant that holds its slot: its body arrives only after the probe."""
    head = (
        f"POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", proc.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(head + b"{")
        time.sleep(0.5)  # the server has authorized it and waits for the rest of the body
        yield


def no_token(proc: LuminateProcess, tenant: str) -> dict[str, str]:
    return {}


def garbage_token(proc: LuminateProcess, tenant: str) -> dict[str, str]:
    return {"Authorization": "Bearer not.a.token"}


def expired_token(proc: LuminateProcess, tenant: str) -> dict[str, str]:
    expired = create_token(TEST_SECRET, tenant=tenant, scopes=["read"], ttl_s=-3600)
    return {"Authorization": f"Bearer {expired}"}


@dataclass(frozen=True)
class Probe:
    """One request and the status, top-level code and per-point codes it must produce.

    `bodies` are tried in order until one answers `status` (only the timeout probe has more
    than one: it depends on the engine being slower than 1 ms)."""

    id: str
    method: str
    path: str
    status: int
    code: str | None
    bodies: tuple[Callable[[], bytes], ...] = ()
    point_codes: tuple[str, ...] = ()
    headers: Headers = field(default=token())
    extra_headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    on_loaded: bool = False
    before: Before | None = None

    def expected(self) -> Observed:
        out: Observed = {("point", c) for c in self.point_codes}
        if self.code is not None:
            out.add(("error", self.code))
        return out

    def send(self, limited: LuminateProcess, loaded: Loaded | None) -> httpx.Response:
        if self.on_loaded:
            assert loaded is not None
            proc, tenant = loaded.proc, loaded.tenant
        else:
            proc, tenant = limited, new_tenant()
        bodies: list[Callable[[], bytes] | None] = list(self.bodies) or [None]
        headers = self.headers(proc, tenant)
        resp: httpx.Response | None = None
        with self.before(proc, headers) if self.before else contextlib.nullcontext():
            for make in bodies:
                resp = httpx.request(
                    self.method,
                    proc.url + self.path,
                    headers={**headers, **self.extra_headers},
                    params=self.params,
                    content=make() if make is not None else None,
                    timeout=TIMEOUT_S,
                )
                if resp.status_code == self.status:
                    break
        assert resp is not None
        return resp


def every_point_code_batch() -> bytes:
    """One valid point, then one point per PointErrorCode, in declaration order."""
    bad: dict[PointErrorCode, dict[str, Any] | bytes] = {
        PointErrorCode.INVALID_METRIC_NAME: point(name="1probe"),
        PointErrorCode.INVALID_DIMENSION_KEY: point(dimensions={"1key": "v"}),
        PointErrorCode.INVALID_DIMENSION_VALUE: point(dimensions={"key": ""}),
        PointErrorCode.TOO_MANY_DIMENSIONS: point(dimensions={f"k{i}": "v" for i in range(21)}),
        PointErrorCode.NON_FINITE_VALUE: b'{"name":"probe","timestamp":%d,"value":1e999}'
        % (now_ms() - 1000),
        PointErrorCode.INVALID_TIMESTAMP: point(timestamp="2026-01-01T00:00:00"),
        PointErrorCode.TIMESTAMP_TOO_OLD: point(timestamp=now_ms() - 8 * DAY_MS),
        PointErrorCode.TIMESTAMP_IN_FUTURE: point(timestamp=now_ms() + 2 * 3_600_000),
        PointErrorCode.INVALID_POINT: point(value="1.0"),
    }
    assert set(bad) == set(PointErrorCode) - SERIES_CODES
    parts = [dumps(point(value=2.0))]
    for code in PointErrorCode:
        if code in SERIES_CODES:
            continue
        p = bad[code]
        parts.append(p if isinstance(p, bytes) else dumps(p))
    return b'{"metrics":[' + b",".join(parts) + b"]}"


SERIES_CODES = {PointErrorCode.SERIES_LIMIT_EXCEEDED, PointErrorCode.METRIC_SERIES_LIMIT_EXCEEDED}


def series_over_limits() -> bytes:
    """For the tiny tier (2 series, 1 per metric): a series, a second series of the same metric,
    a series of another metric, and a fourth series past the tenant's limit."""
    return write_body(
        point(),
        point(dimensions={"k": "second"}),
        point(name="other"),
        point(name="third"),
    )


def over_limit() -> bytes:
    body = write_body(point())
    return body[:-1] + b" " * (SMALL_BODY_LIMIT + 1 - len(body)) + b"}"


WRITE = "/api/v1/write"
QUERY = "/api/v1/query"

PROBES: list[Probe] = [
    # body and transport
    Probe("malformed_json", "POST", WRITE, 400, "malformed_json", (lambda: b'{"metrics":[',)),
    Probe("invalid_body", "POST", WRITE, 400, "invalid_body", (lambda: b'{"metrics":[]}',)),
    Probe("body_too_large", "POST", WRITE, 413, "body_too_large", (over_limit,)),
    Probe(
        "too_many_points",
        "POST",
        WRITE,
        400,
        "too_many_points",
        (lambda: write_body(*[point()] * (SMALL_POINTS_LIMIT + 1)),),
    ),
    Probe(
        "unsupported_content_encoding",
        "POST",
        WRITE,
        415,
        "unsupported_content_encoding",
        (lambda: write_body(point()),),
        extra_headers={"Content-Encoding": "br"},
    ),
    Probe(
        "invalid_compressed_body",
        "POST",
        WRITE,
        400,
        "invalid_compressed_body",
        (lambda: gzip.compress(write_body(point()))[:-8],),
        extra_headers={"Content-Encoding": "gzip"},
    ),
    Probe(
        "all_points_rejected",
        "POST",
        WRITE,
        400,
        "all_points_rejected",
        (lambda: write_body(point(name="bad-name")),),
        point_codes=("invalid_metric_name",),
    ),
    Probe(
        "every-point-code",
        "POST",
        WRITE,
        207,
        None,
        (every_point_code_batch,),
        point_codes=tuple(c.value for c in PointErrorCode if c not in SERIES_CODES),
    ),
    # query model
    Probe(
        "unknown_query_type",
        "POST",
        QUERY,
        400,
        "unknown_query_type",
        (lambda: query_body(queryType="histogram"),),
    ),
    Probe(
        "unknown_aggregation",
        "POST",
        QUERY,
        400,
        "unknown_aggregation",
        (lambda: query_body(queryType="aggregate", aggregation="median"),),
    ),
    Probe(
        "missing_field",
        "POST",
        QUERY,
        400,
        "missing_field",
        (lambda: query_body(queryType="rate"),),
    ),
    Probe(
        "invalid_metric_name",
        "POST",
        QUERY,
        400,
        "invalid_metric_name",
        (lambda: query_body(metricName="1probe"),),
    ),
    Probe(
        "invalid_time",
        "POST",
        QUERY,
        400,
        "invalid_time",
        (lambda: query_body(timeRange={"start": "yesterday", "end": 1}),),
    ),
    Probe(
        "invalid_time_range",
        "POST",
        QUERY,
        400,
        "invalid_time_range",
        (lambda: query_body(timeRange={"start": 2000, "end": 1000}),),
    ),
    Probe(
        "invalid_duration",
        "POST",
        QUERY,
        400,
        "invalid_duration",
        (lambda: query_body(timeRange={"relative": "15x"}),),
    ),
    Probe(
        "invalid_filter",
        "POST",
        QUERY,
        400,
        "invalid_filter",
        (lambda: query_body(filters={"host": ""}),),
    ),
    Probe(
        "invalid_group_by",
        "POST",
        QUERY,
        400,
        "invalid_group_by",
        (lambda: query_body(queryType="aggregate", aggregation="sum", groupBy=["1host"]),),
    ),
    Probe("invalid_limit", "POST", QUERY, 400, "invalid_limit", (lambda: query_body(limit=0),)),
    Probe(
        "invalid_timeout",
        "POST",
        QUERY,
        400,
        "invalid_timeout",
        (lambda: query_body(timeout="forever"),),
    ),
    Probe(
        "invalid_parameter",
        "GET",
        "/api/v1/metrics/probe/dimensions/1host/values",
        400,
        "invalid_parameter",
    ),
    Probe(
        "too_many_buckets",
        "POST",
        QUERY,
        400,
        "too_many_buckets",
        (lambda: query_body(queryType="aggregate", aggregation="sum", interval="1ms"),),
    ),
    Probe(
        "not_applicable",
        "POST",
        QUERY,
        400,
        "not_applicable",
        (lambda: query_body(aggregation="avg"),),
    ),
    # auth
    Probe("missing_token", "GET", "/api/v1/metrics", 401, "missing_token", headers=no_token),
    Probe("invalid_token", "GET", "/api/v1/metrics", 401, "invalid_token", headers=garbage_token),
    Probe("token_expired", "GET", "/api/v1/metrics", 401, "token_expired", headers=expired_token),
    Probe(
        "insufficient_scope",
        "POST",
        WRITE,
        403,
        "insufficient_scope",
        (lambda: write_body(point()),),
        headers=token("read"),
    ),
    # tenant limits and query budgets
    Probe(
        "rate_limited",
        "POST",
        WRITE,
        429,
        "rate_limited",
        (lambda: write_body(point()), lambda: write_body(point())),
        headers=tiny(),
    ),
    Probe(
        "too_many_concurrent_queries",
        "POST",
        QUERY,
        429,
        "too_many_concurrent_queries",
        (query_body,),
        headers=tiny(),
        before=query_in_flight,
    ),
    Probe(
        "time_range_too_long",
        "POST",
        QUERY,
        400,
        "time_range_too_long",
        (lambda: query_body(timeRange={"relative": "2h"}),),
        headers=tiny(),
    ),
    Probe(
        "too_many_rows_scanned",
        "POST",
        QUERY,
        422,
        "too_many_rows_scanned",
        (query_body,),
        headers=tiny(),
        before=stored_points,
    ),
    Probe(
        "series_limits",
        "POST",
        WRITE,
        207,
        None,
        (series_over_limits,),
        point_codes=("metric_series_limit_exceeded", "series_limit_exceeded"),
        headers=tiny(),
    ),
    Probe(
        "headers_too_large",
        "GET",
        "/api/v1/metrics",
        431,
        "headers_too_large",
        extra_headers={"X-Padding": "x" * 20_000},
    ),
    Probe(
        "cors_not_allowed",
        "OPTIONS",
        "/api/v1/query",
        400,
        "cors_not_allowed",
        headers=no_token,
        extra_headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
        },
    ),
    # routing
    Probe("not_found", "GET", "/api/v1/no-such-endpoint", 404, "not_found"),
    Probe("not_found-without-token", "GET", "/nope", 404, "not_found", headers=no_token),
    Probe("method_not_allowed", "GET", WRITE, 405, "method_not_allowed"),
    Probe("method_not_allowed-put", "PUT", QUERY, 405, "method_not_allowed"),
    # storage
    Probe(
        "query_timeout",
        "POST",
        QUERY,
        422,
        "query_timeout",
        on_loaded=True,
    ),
]


def _timeout_bodies(loaded: Loaded) -> tuple[Callable[[], bytes], ...]:
    aggregations = ("p99", "integral", "p99", "integral", "p95")
    return tuple((lambda a=a: heavy_query(loaded, a)) for a in aggregations)


def run(probe: Probe, limited: LuminateProcess, loaded: Loaded | None) -> httpx.Response:
    if probe.on_loaded:
        assert loaded is not None
        probe = dataclasses.replace(probe, bodies=_timeout_bodies(loaded))
    return probe.send(limited, loaded)


def assert_answer(probe: Probe, resp: httpx.Response) -> None:
    assert resp.status_code == probe.status, resp.text
    body = resp.json()
    if probe.code is not None:
        error = body["error"]
        assert set(error) == {"code", "message", "details"}, body
        assert error["code"] == probe.code, body
        assert isinstance(error["message"], str)
        assert error["message"]
        assert isinstance(error["details"], dict)
    else:
        assert "error" not in body, body
    assert [e["error"]["code"] for e in body.get("errors", [])] == list(probe.point_codes)
    if probe.status == 401:
        assert resp.headers.get("www-authenticate") == "Bearer"
    assert observed_in(resp) == probe.expected()


@pytest.fixture
def loaded_if_needed(request: pytest.FixtureRequest) -> Loaded | None:
    probe: Probe = request.node.callspec.params["probe"]
    if not probe.on_loaded:
        return None
    value: Loaded = request.getfixturevalue("loaded")
    return value


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_probe_answers_its_code(
    limited: LuminateProcess, loaded_if_needed: Loaded | None, probe: Probe
) -> None:
    assert_answer(probe, run(probe, limited, loaded_if_needed))


def test_the_table_claims_every_reachable_code() -> None:
    claimed: Observed = set().union(*(p.expected() for p in PROBES))
    assert claimed == EXPECTED
    assert set(UNREACHABLE_FROM_HTTP) <= set(ErrorCode)
    assert all(reason.strip() for reason in UNREACHABLE_FROM_HTTP.values())


def test_every_documented_code_is_observed(limited: LuminateProcess, loaded: Loaded) -> None:
    observed: Observed = set()
    for probe in PROBES:
        observed |= observed_in(run(probe, limited, loaded))
    assert observed - DOCUMENTED == set(), "undocumented codes were answered"
    assert observed == EXPECTED
    assert not observed & {("error", c.value) for c in UNREACHABLE_FROM_HTTP}


# -- after a timeout ----------------------------------------------------------------------------


def small_query(loaded: Loaded) -> httpx.Response:
    return httpx.post(
        f"{loaded.proc.url}/api/v1/query",
        headers=loaded.proc.headers(loaded.small_tenant, "read"),
        content=query_body(),
        timeout=TIMEOUT_S,
    )


def heavy(loaded: Loaded, aggregation: str, timeout: str) -> httpx.Response:
    body = json.loads(heavy_query(loaded, aggregation))
    body["timeout"] = timeout
    return httpx.post(
        f"{loaded.proc.url}/api/v1/query",
        headers=loaded.proc.headers(loaded.tenant, "read"),
        content=dumps(body),
        timeout=TIMEOUT_S,
    )


@pytest.mark.parametrize("aggregation", ["p99", "integral", "avg"])
def test_a_timed_out_query_leaves_the_server_answering(loaded: Loaded, aggregation: str) -> None:
    """After a query times out part-way through, more queries than the engine has connections
    all answer correctly (the engine connection that ran it is not left holding its output)."""
    timed_out = 0
    for timeout in ("5ms", "20ms", "50ms"):
        resp = heavy(loaded, aggregation, timeout)
        if resp.status_code == 200:
            continue
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == "query_timeout"
        timed_out += 1
        answers = [small_query(loaded) for _ in range(2 * QUERY_CONCURRENCY + 1)]
        assert [r.status_code for r in answers] == [200] * len(answers), [
            r.text[:200] for r in answers if r.status_code != 200
        ]
        for r in answers:
            assert [x["value"] for x in r.json()["results"]] == [loaded.small_value]
    assert timed_out > 0, "no query timed out; the load is too small for this machine"
