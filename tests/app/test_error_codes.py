"""Every stable error code is reachable over HTTP: a table of requests that, together, produce
every `ErrorCode` and every per-point `PointErrorCode`, and a check that the codes observed are
exactly the documented ones minus those listed (with the reason) in UNREACHABLE_FROM_HTTP."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from luminate.model.errors import ErrorCode
from luminate.model.points import PointErrorCode
from tests.app.inprocess import InProcessApp
from tests.app.probe_table import PROBES
from tests.app.probes import TIMEOUT_S, Loaded, Observed, Probe, point, query_body, write_body
from tests.support.clock import now_ms
from tests.support.points import dumps
from tests.support.tenants import new_tenant

QUERY_CONCURRENCY = 4  # the default LUMINATE_QUERY_CONCURRENCY: engine connections in the pool
LOAD_POINTS = 150_000
LOAD_BATCH = 50_000
LOAD_USERS = 50_000
LOAD_METRIC = "latency_ms"
LOAD_SPAN_MS = 3_000_000

UNREACHABLE_FROM_HTTP: dict[ErrorCode, str] = {
    ErrorCode.STORAGE_UNAVAILABLE: (
        "The embedded engine runs inside the server process. It raises StorageUnavailable only "
        "after an insert failed three times in a row or once the engine is closed, which "
        "happens after the listener has stopped. No request can cause either, and this build "
        "has no network backend that a test could take away."
    ),
    # Transport: only a real socket to a real server produces these (tests/e2e, see there).
    ErrorCode.MALFORMED_REQUEST: (
        "uvicorn's HTTP parser refuses the request line before the app sees a request; "
        "tests/e2e/test_connection_limits.py sends one over a socket."
    ),
    ErrorCode.REQUEST_TIMEOUT: (
        "A client stalling its head or body on a socket; tests/e2e/test_connection_limits.py "
        "stalls both."
    ),
    ErrorCode.TOO_MANY_CONNECTIONS: (
        "The server's own connection count; tests/e2e/test_connection_limits.py opens one "
        "connection over the cap."
    ),
    ErrorCode.INTERNAL_ERROR: (
        "Only for unexpected exceptions. The triggers found (bodies with invalid UTF-8 inside "
        "strings, a query on an engine connection that just timed out) are bugs with failing "
        "tests of their own; a correct build never answers it."
    ),
}

DOCUMENTED: Observed = {("error", c.value) for c in ErrorCode} | {
    ("point", c.value) for c in PointErrorCode
}
EXPECTED: Observed = DOCUMENTED - {("error", c.value) for c in UNREACHABLE_FROM_HTTP}


def spoken_code(resp: httpx.Response) -> str | None:
    """The code of an error spelled in another protocol's format (remote_write's plain text,
    the Prometheus API's envelope), None for Luminate's own shape."""
    if resp.headers.get("content-type", "").startswith("text/plain"):
        return resp.text.split(":", 1)[0]
    body = resp.json()
    if isinstance(body, dict) and body.get("status") == "error":
        return str(body["error"]).split(":", 1)[0]
    return None


def observed_in(resp: httpx.Response) -> Observed:
    """("error", code) for the top-level error and ("point", code) for each per-point error."""
    spoken = spoken_code(resp)
    if spoken is not None:
        return {("error", spoken)}
    body = resp.json()
    out: Observed = set()
    if "error" in body:
        out.add(("error", body["error"]["code"]))
    for e in body.get("errors", []):
        out.add(("point", e["error"]["code"]))
    return out


# -- servers ------------------------------------------------------------------------------------


def _load_body(first: int, count: int, start_ms: int) -> bytes:
    rows = [
        f'{{"name":"{LOAD_METRIC}","timestamp":{start_ms + i * 10},"value":{i % 997}.5,'
        f'"dimensions":{{"user":"u{i % LOAD_USERS}"}}}}'
        for i in range(first, first + count)
    ]
    return ('{"metrics":[' + ",".join(rows) + "]}").encode()


@pytest.fixture(scope="module")
def loaded(server: InProcessApp) -> Loaded:
    tenant, small_tenant = new_tenant(), new_tenant()
    start_ms = now_ms() - LOAD_SPAN_MS - 60_000
    client = server.client

    def send(first: int) -> httpx.Response:
        return client.post(
            "/api/v1/write",
            headers=server.headers(tenant, "write"),
            content=_load_body(first, LOAD_BATCH, start_ms),
            timeout=TIMEOUT_S,
        )

    # Concurrent writes, as clients send them: one is decoded while another is inserted.
    with ThreadPoolExecutor(3) as pool:
        for resp in pool.map(send, range(0, LOAD_POINTS, LOAD_BATCH)):
            assert resp.status_code == 200, resp.text
            assert resp.json()["accepted"] == LOAD_BATCH
    resp = client.post(
        "/api/v1/write",
        headers=server.headers(small_tenant, "write"),
        content=write_body(point(value=7.25)),
        timeout=TIMEOUT_S,
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


def _timeout_bodies(loaded: Loaded) -> tuple[Callable[[], bytes], ...]:
    aggregations = ("p99", "integral", "p99", "integral", "p95")
    return tuple((lambda a=a: heavy_query(loaded, a)) for a in aggregations)


def run(probe: Probe, limited: InProcessApp, loaded: Loaded | None) -> httpx.Response:
    if probe.on_loaded:
        assert loaded is not None
        probe = dataclasses.replace(probe, bodies=_timeout_bodies(loaded))
    return probe.send(limited, loaded)


def assert_answer(probe: Probe, resp: httpx.Response) -> None:
    assert resp.status_code == probe.status, resp.text
    spoken = spoken_code(resp)
    if spoken is not None:
        assert spoken == probe.code, resp.text
        assert observed_in(resp) == probe.expected()
        return
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
    limited: InProcessApp, loaded_if_needed: Loaded | None, probe: Probe
) -> None:
    assert_answer(probe, run(probe, limited, loaded_if_needed))


def test_the_table_claims_every_reachable_code() -> None:
    claimed: Observed = set().union(*(p.expected() for p in PROBES))
    assert claimed == EXPECTED
    assert set(UNREACHABLE_FROM_HTTP) <= set(ErrorCode)
    assert all(reason.strip() for reason in UNREACHABLE_FROM_HTTP.values())


def test_every_documented_code_is_observed(limited: InProcessApp, loaded: Loaded) -> None:
    observed: Observed = set()
    for probe in PROBES:
        observed |= observed_in(run(probe, limited, loaded))
    assert observed - DOCUMENTED == set(), "undocumented codes were answered"
    assert observed == EXPECTED
    assert not observed & {("error", c.value) for c in UNREACHABLE_FROM_HTTP}


# -- after a timeout ----------------------------------------------------------------------------


def small_query(loaded: Loaded) -> httpx.Response:
    return loaded.proc.client.post(
        "/api/v1/query",
        headers=loaded.proc.headers(loaded.small_tenant, "read"),
        content=query_body(),
        timeout=TIMEOUT_S,
    )


def heavy(loaded: Loaded, aggregation: str, timeout: str) -> httpx.Response:
    body = json.loads(heavy_query(loaded, aggregation))
    body["timeout"] = timeout
    return loaded.proc.client.post(
        "/api/v1/query",
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
