"""The Prometheus HTTP API with real clients: promtool (a Go client), the request sequence of
Grafana's built-in Prometheus data source, bad and unsupported PromQL in Prometheus' error
envelope, and tenants that never see each other's series."""

from __future__ import annotations

import itertools
import subprocess
import time
from typing import Any

import httpx
import pytest

from testbed.prometheus import PrometheusError
from tests.protocols.conftest import TENANT, Stack

pytestmark = pytest.mark.e2e


def api(
    stack: Stack, method: str, path: str, tenant: str = TENANT, **params: str
) -> httpx.Response:
    url = f"{stack.luminate.url}/prometheus/api/v1/{path}"
    headers = stack.luminate.headers(tenant, "read")
    if method == "POST":
        return httpx.post(url, data=params, headers=headers, timeout=60)
    return httpx.get(url, params=params, headers=headers, timeout=60)


def data(r: httpx.Response) -> Any:
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", body
    return body["data"]


def promtool(stack: Stack, *args: str) -> str:
    """promtool query against Luminate; the token travels as the Basic password."""
    token = stack.luminate.token(TENANT, "read")
    server = f"http://luminate:{token}@127.0.0.1:{stack.luminate.port}/prometheus"
    out = subprocess.run(
        ["promtool", "query", *args[:1], server, *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_promtool_queries_succeed(warm: Stack) -> None:
    now = int(time.time())
    instant = promtool(warm, "instant", "sum(up)", f"--time={now}")
    assert instant.strip().endswith(f"=> 1 @[{now}]")
    ranged = promtool(warm, "range", "up", f"--start={now - 20}", f"--end={now - 5}", "--step=5s")
    assert "1 @[" in ranged and ranged.count("@[") == 4
    labels = promtool(warm, "labels", "job", "--match=up")
    assert labels.strip() == "prometheus"
    series = promtool(warm, "series", "--match=up")
    assert 'job="prometheus"' in series and "__name__" in series


def test_a_failing_promtool_is_noticed(warm: Stack) -> None:
    with pytest.raises(AssertionError):
        promtool(warm, "instant", "sum(")


def test_grafana_request_sequence(warm: Stack) -> None:
    """In the order Grafana's data source sends them: Save & test, build info, the label
    browser, a panel's range query (float times, POST), and GET for what takes no POST."""
    now = time.time()
    # Save & test (Grafana's promlib healthcheck): an instant `1+1` over the time range
    # 1 s .. 4 s after the epoch, so evaluated at time 4, POSTed as a form.
    assert data(api(warm, "POST", "query", query="1+1", time="4"))["result"] == [4, "2"]
    # Its heuristics read build info: without `features` the source is plain Prometheus.
    info = data(api(warm, "GET", "status/buildinfo"))
    assert info["version"].startswith("2.") and "features" not in info
    window = {"start": f"{now - 3600:.3f}", "end": f"{now:.3f}"}
    names = data(api(warm, "GET", "label/__name__/values", **window))
    assert "up" in names and names == sorted(names)
    keys = data(api(warm, "POST", "labels", **{"match[]": '{__name__="up"}'}, **window))
    assert keys == ["__name__", "instance", "job"]
    jobs = data(api(warm, "GET", "label/job/values", **{"match[]": "up"}, **window))
    assert jobs == ["prometheus"]
    series = data(api(warm, "POST", "series", **{"match[]": "up"}, **window))
    assert [s["__name__"] for s in series] == ["up"]
    assert data(api(warm, "GET", "metadata")) == {}
    panel = data(
        api(
            warm,
            "POST",
            "query_range",
            query="sum(rate(prometheus_http_requests_total[30s]))",
            start=f"{now - 20.5:.3f}",
            end=f"{now - 0.5:.3f}",
            step="2.5",
        )
    )
    assert panel["resultType"] == "matrix"
    steps = [t for t, _ in panel["result"][0]["values"]]
    assert all(b - a == pytest.approx(2.5) for a, b in itertools.pairwise(steps))
    # A POST where Prometheus takes only GET answers 405 in the envelope; GET then works.
    r = api(warm, "POST", "label/job/values")
    assert r.status_code == 405 and r.json()["status"] == "error" and "GET" in r.headers["allow"]
    assert data(api(warm, "GET", "label/job/values")) == ["prometheus"]


BAD = [
    ({"query": "sum("}, "query", 400, "bad_data", "invalid_promql"),
    ({"query": 'up{job="x"'}, "query", 400, "bad_data", "invalid_promql"),
    ({"query": "rate(up)"}, "query", 400, "bad_data", "invalid_promql"),
    ({"query": ""}, "query", 400, "bad_data", "invalid_promql"),
    ({}, "query", 400, "bad_data", "missing_field"),
    ({"query": "up", "time": "yesterday"}, "query", 400, "bad_data", "invalid_time"),
    ({"query": "rate(up[5m:1m])"}, "query", 422, "execution", "subquery"),
    ({"query": "up @ 100"}, "query", 422, "execution", "@ modifier"),
    ({"query": 'count_values("v", up)'}, "query", 422, "execution", "count_values"),
    ({"query": "predict_linear(up[5m], 60)"}, "query", 422, "execution", "predict_linear"),
    ({"query": "up[5m]"}, "query", 422, "execution", "range vector"),
    (
        {"query": "up", "start": "0", "end": "11001", "step": "1"},
        "query_range",
        400,
        "bad_data",
        "11,000 points",
    ),
    (
        {"query": "up", "start": "10", "end": "0", "step": "1"},
        "query_range",
        400,
        "bad_data",
        "end",
    ),
    (
        {"query": "up", "start": "0", "end": "10", "step": "0"},
        "query_range",
        400,
        "bad_data",
        "step",
    ),
    ({"query": "up", "start": "0", "end": "10"}, "query_range", 400, "bad_data", "step"),
    ({}, "series", 400, "bad_data", "match[]"),
    ({"match[]": "rate(up[1m])"}, "series", 400, "bad_data", "selector"),
]


@pytest.mark.parametrize(("params", "path", "status", "error_type", "says"), BAD)
def test_bad_requests_answer_in_the_envelope(
    stack: Stack, params: dict[str, str], path: str, status: int, error_type: str, says: str
) -> None:
    r = api(stack, "GET", path, **params)
    body = r.json()
    assert (r.status_code, body["status"], body["errorType"]) == (status, "error", error_type)
    assert says in body["error"]


def test_the_resolution_limit_is_prometheus_own(stack: Stack) -> None:
    """The same boundary as the real Prometheus: (end - start) / step = 11,000 is answered,
    one step more is refused, by both."""
    within = {"query": "1", "start": "0", "end": "11000", "step": "1"}
    beyond = {**within, "end": "11001"}
    assert api(stack, "GET", "query_range", **within).is_success
    stack.prometheus.api("query_range", **within)
    assert api(stack, "GET", "query_range", **beyond).status_code == 400
    with pytest.raises(PrometheusError, match="11,000 points"):
        stack.prometheus.api("query_range", **beyond)


def test_authentication_errors_use_the_envelope(stack: Stack) -> None:
    r = httpx.get(f"{stack.luminate.url}/prometheus/api/v1/query", params={"query": "1"})
    assert r.status_code == 401 and r.json()["status"] == "error"


def test_tenants_never_see_each_other(warm: Stack) -> None:
    """Prometheus wrote as tenant `prom`: another tenant sees none of it, through any API."""
    other = "not-prom"
    assert data(api(warm, "GET", "query", tenant=other, query="count(up)"))["result"] == []
    assert data(api(warm, "GET", "label/__name__/values", tenant=other)) == []
    assert data(api(warm, "GET", "labels", tenant=other)) == []
    assert data(api(warm, "GET", "series", tenant=other, **{"match[]": "up"})) == []
    r = httpx.get(
        f"{warm.luminate.url}/api/v1/metrics", headers=warm.luminate.headers(other, "read")
    )
    assert r.json()["metrics"] == []
    # The control: the writing tenant sees its series through the same calls.
    assert data(api(warm, "GET", "query", query="count(up)"))["result"]
    r = httpx.get(
        f"{warm.luminate.url}/api/v1/metrics", headers=warm.luminate.headers(TENANT, "read")
    )
    assert "up" in {m["name"] for m in r.json()["metrics"]}
