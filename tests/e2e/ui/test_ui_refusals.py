"""A query that is refused (429) or runs past its time budget (422 query_timeout) shows why,
with the API's code and message, and can be retried from the page until it succeeds."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from luminate.auth.tokens import create_token
from tests.app.bodies import TIMEOUT_S
from tests.e2e.server import LuminateProcess
from tests.e2e.ui.data import new_tenant, write
from tests.e2e.ui.driver import UI
from tests.support.clock import now_ms
from tests.support.tokens import TEST_SECRET

ONE_SLOT = "one-slot"
HEAVY_POINTS = 300_000
HEAVY_USERS = 50_000


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    """A server with a tier whose tenants may run one query at a time."""
    base = tmp_path_factory.mktemp("ui-refusals")
    overrides = base / "limits.yaml"
    overrides.write_text(yaml.safe_dump({"tiers": {ONE_SLOT: {"concurrent_queries": 1}}}))
    proc = LuminateProcess(
        data_dir=base / "data",
        log_path=base / "server.log",
        env_extra={"LUMINATE_LIMITS_OVERRIDES_FILE": str(overrides)},
    ).start()
    try:
        yield proc
    finally:
        proc.kill()


def small(server: LuminateProcess) -> str:
    tenant = new_tenant()
    start = now_ms() - 10 * 60_000
    write(
        server,
        tenant,
        [
            {"name": "jobs", "timestamp": start + i * 1000, "value": 1.0, "dimensions": {}}
            for i in range(60)
        ],
    )
    return tenant


class SlotHeld:
    """A query of the tenant whose body never finishes arriving: it holds the tenant's only
    query slot until closed."""

    def __init__(self, server: LuminateProcess, token: str) -> None:
        head = (
            f"POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n{{"
        ).encode()
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
        self.sock.sendall(head)
        time.sleep(0.5)  # the server has authorized it and waits for the rest of the body

    def release(self) -> None:
        self.sock.close()


def test_a_refused_query_says_why_and_can_be_retried(ui: UI) -> None:
    ui.watch.expect_http_errors(429)
    tenant = small(ui.server)
    token = create_token(
        TEST_SECRET, tenant=tenant, scopes=["read"], ttl_s=600, extra={"tier": ONE_SLOT}
    )
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=jobs&agg=count&interval=1m")
    ui.settled(sent.value)
    first = ui.table()
    assert sum(row["count"] for row in first) == 60
    page = ui.page
    page.locator(".u-over").wait_for()  # the discovery calls are done too

    held = SlotHeld(ui.server, token)
    try:
        body = ui.run()
        alert = page.locator(".run-status [role=alert]")
        resp = ui.api(token, "POST", "/api/v1/query", json=body)
        assert resp.status_code == 429
        error = resp.json()["error"]
        assert error["code"] == "too_many_concurrent_queries"
        assert (
            alert.locator("p").first.inner_text()
            == f"too_many_concurrent_queries (HTTP 429) {error['message']}"
        )
        assert "wait 1 s before retrying" in alert.inner_text()
        assert page.locator("#table table").count() == 1  # the last answer stays until replaced
        ui.shot("explore-refused")
    finally:
        held.release()
    with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        alert.get_by_role("button", name="Retry").click()
    assert ui.settled(sent.value) == body
    assert alert.count() == 0
    assert ui.table() == first


@pytest.fixture(scope="module")
def heavy(ui_server: LuminateProcess) -> str:
    """Enough points that a grouped percentile takes longer than a millisecond."""
    tenant = new_tenant()
    start = now_ms() - 50 * 60_000
    points: list[dict[str, Any]] = [
        {
            "name": "latency_ms",
            "timestamp": start + i * 10,
            "value": float(i % 997) + 0.5,
            "dimensions": {"user": f"u{i % HEAVY_USERS}"},
        }
        for i in range(HEAVY_POINTS)
    ]
    write(ui_server, tenant, points)
    return tenant


def test_a_timed_out_query_says_why_and_can_be_retried(ui: UI, heavy: str) -> None:
    ui.watch.expect_http_errors(422)
    token = ui.server.token(heavy, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=latency_ms&interval=none&g=user&limit=100000")
    ui.settled(sent.value)
    page = ui.page
    page.get_by_text("Limit and timeout").click()
    page.get_by_label("Timeout").fill("1ms")
    timed_out = None
    # The engine checks its time budget between blocks, so a 1 ms budget is usually, not always,
    # overrun; heavier aggregations until one is.
    for aggregation in ("p99", "integral", "p95", "p99", "integral"):
        page.get_by_label("Aggregation").select_option(aggregation)
        body = ui.run()
        if page.locator(".run-status [role=alert]").count():
            timed_out = body
            break
    assert timed_out is not None, (
        "no query overran 1 ms; the data set is too small for this machine"
    )
    assert timed_out["timeout"] == "1ms"
    message = ui.field_error("q-timeout")
    assert message.startswith("query_timeout query ran past its time budget of 0.001 s")
    alert = page.locator(".run-status [role=alert]")
    assert alert.inner_text().startswith("query_timeout (HTTP 422) query ran past its time budget")
    assert "raise the timeout" in alert.inner_text()
    ui.shot("explore-timeout")

    page.get_by_label("Timeout").fill("60s")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        alert.get_by_role("button", name="Retry").click()
    retried = ui.settled(sent.value)
    assert retried == {**timed_out, "timeout": "60s"}
    assert alert.count() == 0
    assert page.locator("#q-timeout-error").is_hidden()
    assert page.locator("#table caption").inner_text() == f"{HEAVY_USERS:,} rows"
    assert len(ui.table()) == 500  # shown a page at a time
