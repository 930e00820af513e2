"""The Cardinality page in a real browser: every number it shows is the one /api/v1/cardinality
answers for the same request (and those are the counts of the points written here): series in
use against the limit with the percentage, top metrics and keys, and the keys and metrics that
grow; metric names link into Explore."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Request

from tests.e2e.server import LuminateProcess
from tests.e2e.ui.data import MINUTE_MS, new_tenant, write
from tests.e2e.ui.driver import UI
from tests.support.clock import now_ms

MAX_SERIES = 40


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    """A server with a small series limit, so the percentage in use is a visible number."""
    base = tmp_path_factory.mktemp("ui-cardinality")
    proc = LuminateProcess(
        data_dir=base / "data",
        log_path=base / "server.log",
        env_extra={"LUMINATE_CARDINALITY_MAX_SERIES": str(MAX_SERIES)},
    ).start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def tenant(ui_server: LuminateProcess) -> str:
    """`orders` by region: r0..r3 90 minutes ago, then r0, r1 and the new r4..r6 10 minutes
    ago; `carts` by user: u0..u7, all new 10 minutes ago."""
    name = new_tenant()
    earlier, recent = now_ms() - 90 * MINUTE_MS, now_ms() - 10 * MINUTE_MS

    def point(metric: str, ts: int, key: str, value: str) -> dict[str, Any]:
        return {"name": metric, "timestamp": ts, "value": 1.0, "dimensions": {key: value}}

    write(
        ui_server,
        name,
        [point("orders", earlier + i, "region", f"r{i}") for i in range(4)]
        + [point("orders", recent + i, "region", f"r{i}") for i in (0, 1, 4, 5, 6)]
        + [point("carts", recent + i, "user", f"u{i}") for i in range(8)],
    )
    return name


def number(text: str) -> int:
    return int(text.replace(",", ""))


def percent(part: int, whole: int) -> str:
    p = part / whole * 100
    return f"{p:.2f}%" if p < 10 else f"{math.floor(p * 10 + 0.5) / 10:.1f}%"


def rows(ui: UI, table_id: str) -> list[list[str]]:
    cells: list[list[str]] = ui.page.locator(f"#{table_id} tbody tr").evaluate_all(
        "(trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent))"
    )
    return cells


def open_page(
    ui: UI, token: str, fragment: str = "#/cardinality"
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Sign in at the page; each cardinality request it sent (its parameters) with the answer
    the API gives to that same request."""
    sent: list[Request] = []
    ui.page.on("request", lambda r: sent.append(r) if "/api/v1/cardinality" in r.url else None)
    ui.sign_in(token, fragment)
    ui.page.locator("#growth table").first.wait_for()
    ui.page.locator("#usage #active-series").wait_for()
    out = []
    for request in sent:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        path = urlsplit(request.url).path + "?" + urlsplit(request.url).query
        resp = ui.api(token, "GET", path)
        assert resp.status_code == 200, resp.text
        out.append((query, resp.json()))
    return out


def test_the_numbers_are_the_apis(ui: UI, tenant: str) -> None:
    token = ui.server.token(tenant, "read")
    answers = open_page(ui, token)
    current = [a for q, a in answers if q == {"limit": "10"}]
    assert len(current) == 1 and len(answers) == 3
    c = current[0]

    # The API against what was written.
    assert c["estimatedSeries"] == 15
    assert c["topMetrics"] == [
        {"name": "carts", "estimatedSeries": 8},
        {"name": "orders", "estimatedSeries": 7},
    ]
    assert c["topDimensionKeys"] == [
        {"key": "user", "estimatedDistinctValues": 8},
        {"key": "region", "estimatedDistinctValues": 7},
    ]
    assert c["limits"]["maxSeries"] == MAX_SERIES

    # The page against the API.
    page = ui.page
    used, limit = c["limits"]["estimatedActiveSeries"], c["limits"]["maxSeries"]
    assert used == 15  # the limiter's estimate is exact this small
    assert number(page.locator("#active-series").inner_text()) == used
    assert number(page.locator("#max-series").inner_text()) == limit
    assert page.locator("#series-percent").inner_text() == f"({percent(used, limit)})"
    assert page.locator("#series-percent").inner_text() == "(37.5%)"
    assert float(page.locator("#series-meter").get_attribute("value") or "") == used
    assert page.locator("#max-series-per-metric").inner_text() == "off"
    assert number(page.locator("#stored-series").inner_text()) == c["estimatedSeries"]
    assert rows(ui, "top-metrics") == [
        [m["name"], str(m["estimatedSeries"]), percent(m["estimatedSeries"], c["estimatedSeries"])]
        for m in c["topMetrics"]
    ]
    assert rows(ui, "top-keys") == [
        [k["key"], str(k["estimatedDistinctValues"])] for k in c["topDimensionKeys"]
    ]

    # Growth: the two answers compared, as the page shows them, and as written.
    window = {q["end"]: a for q, a in answers if "end" in q}
    assert len(window) == 2
    recent, before = (window[k] for k in sorted(window, reverse=True))

    def grew(
        now: list[dict[str, Any]], then: list[dict[str, Any]], name: str, count: str
    ) -> list[list[str]]:
        earlier = {r[name]: r[count] for r in then}
        out = [(r[name], r[count] - earlier.get(r[name], 0)) for r in now]
        return [[n, str(d)] for n, d in sorted(out, key=lambda x: -x[1]) if d > 0]

    keys = grew(
        recent["topDimensionKeys"], before["topDimensionKeys"], "key", "estimatedDistinctValues"
    )
    metrics = grew(recent["topMetrics"], before["topMetrics"], "name", "estimatedSeries")
    assert keys == [["user", "8"], ["region", "3"]]
    assert metrics == [["carts", "8"], ["orders", "3"]]
    assert rows(ui, "growth-keys") == keys
    assert rows(ui, "growth-metrics") == metrics
    ui.shot("cardinality")


def test_a_window_counts_only_its_series(ui: UI, tenant: str) -> None:
    token = ui.server.token(tenant, "read")
    open_page(ui, token)
    page = ui.page
    page.get_by_label("Stored series in").select_option("1h")
    with page.expect_request(
        lambda r: "/api/v1/cardinality?start=" in r.url and "limit=10" in r.url
    ) as sent:
        page.get_by_role("button", name="Refresh").click()
    query = parse_qs(urlsplit(sent.value.url).query)
    assert int(query["end"][0]) - int(query["start"][0]) == 3_600_000
    page.wait_for_function("() => document.querySelector('#stored-series')?.textContent === '13'")
    assert "window=1h" in page.url


def test_metric_names_link_into_explore(ui: UI, tenant: str) -> None:
    token = ui.server.token(tenant, "read")
    open_page(ui, token)
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.page.locator("#top-metrics").get_by_role("link", name="orders").click()
    body = ui.settled(sent.value)
    assert (body["metricName"], body["aggregation"]) == ("orders", "count")
    assert ui.page.get_by_label("Metric", exact=True).input_value() == "orders"
    assert sum(row["count"] for row in ui.table()) == 5  # the last hour: r0, r1, r4, r5, r6


def test_the_dark_theme(new_ui: Callable[..., UI], tenant: str) -> None:
    ui = new_ui(color_scheme="dark")
    open_page(ui, ui.server.token(tenant, "read"))
    background = ui.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 26)"
    ui.shot("cardinality-dark")
