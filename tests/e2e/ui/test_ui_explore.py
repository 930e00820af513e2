"""Explore in a real browser: find a metric, group and filter by its dimensions, run it, and see
a chart and a table that hold exactly the API's answer for the same query (itself checked
against sums computed here); raw points for range queries; searchable, paged dimension values;
zoom; a shared URL that restores the view; API errors next to the field they are about."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.server import LuminateProcess
from tests.e2e.ui.data import BUCKET_MS, CUSTOMERS, Latency, new_tenant, users, write
from tests.e2e.ui.driver import UI


@pytest.fixture(scope="module")
def latency(ui_server: LuminateProcess) -> Latency:
    return Latency.write(ui_server)


def metric_button(ui: UI, name: str) -> Any:
    return ui.page.get_by_role("list", name="Metrics", exact=True).get_by_role(
        "button", name=re.compile(rf"^{re.escape(name)}\b")
    )


def pick_metric(ui: UI, name: str) -> dict[str, Any]:
    """Search for the metric, pick it; the body of the query that picking runs."""
    ui.page.get_by_label("Search metrics").fill(name[:5])
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        metric_button(ui, name).click()
    return ui.settled(sent.value)


def answer_of(ui: UI, token: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = ui.api(token, "POST", "/api/v1/query", json=body)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def label(dims: dict[str, Any]) -> str:
    return ", ".join(f"{k}={'(missing)' if v is None else v}" for k, v in dims.items())


def test_the_chart_and_the_table_hold_the_apis_answer(ui: UI, latency: Latency) -> None:
    token = ui.server.token(latency.tenant, "read")
    ui.sign_in(token)
    assert ui.page.locator("#tenant").inner_text() == latency.tenant
    pick_metric(ui, "checkout_latency")
    ui.page.get_by_label("Aggregation").select_option("sum")
    ui.page.get_by_label("Interval").fill("5m")
    ui.page.get_by_role("group", name="Group by").get_by_label("customer_id").check()
    body = ui.run()
    assert body == {
        "queryType": "aggregate",
        "metricName": "checkout_latency",
        "timeRange": {"relative": "1h"},
        "aggregation": "sum",
        "groupBy": ["customer_id"],
        "interval": "5m",
    }
    rows = answer_of(ui, token, body)["results"]

    # The API against sums computed here from the points written.
    oracle = latency.sums("customer_id", BUCKET_MS)
    assert len(rows) == len(oracle) == 3 * 6
    for row in rows:
        total, count = oracle[(row["groupKey"]["customer_id"], row["timestamp"])]
        assert row["value"] == pytest.approx(total) and row["count"] == count

    # The table: every row of the answer, in its order, values as the API wrote them.
    assert ui.table() == [
        {
            "customer_id": r["groupKey"]["customer_id"],
            "time": r["timestamp"],
            "value": r["value"],
            "count": r["count"],
        }
        for r in rows
    ]

    # The chart: one line per customer over the answer's buckets.
    chart = ui.chart()
    assert chart is not None
    stamps = sorted({r["timestamp"] for r in rows})
    assert chart["x"] == stamps
    assert chart["labels"] == [f"customer_id={c}" for c in CUSTOMERS]
    by = {(r["groupKey"]["customer_id"], r["timestamp"]): r["value"] for r in rows}
    assert chart["ys"] == [[by.get((c, t)) for t in stamps] for c in CUSTOMERS]

    # Hovering a bucket shows the answer's values in the legend.
    t = stamps[len(stamps) // 2]
    at = ui.page.evaluate("(t) => import('/ui/js/chart.js').then((m) => m.pointAt(t))", t)
    ui.page.mouse.move(at["x"], at["y"])
    legend = ui.page.locator(".u-legend .u-series .u-value")
    ui.page.wait_for_function(
        "() => document.querySelectorAll('.u-legend .u-series .u-value')[1].textContent !== '—'"
    )
    shown = legend.all_inner_texts()[1:]
    assert [float(v) for v in shown] == [by[(c, t)] for c in CUSTOMERS]
    ui.shot("explore", full_page=True)


def test_range_queries_show_the_raw_points(ui: UI, latency: Latency) -> None:
    token = ui.server.token(latency.tenant, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=checkout_latency&type=range&f=customer_id%3Dc2")
    body = ui.settled(sent.value)
    assert body["queryType"] == "range"
    assert body["filters"] == {"customer_id": "c2"}
    rows = answer_of(ui, token, body)["results"]
    expected = latency.of("customer_id", "c2")
    assert [(r["timestamp"], r["value"], r["dimensions"]) for r in rows] == [
        (p["timestamp"], p["value"], p["dimensions"]) for p in expected
    ]
    assert ui.table() == [
        {"time": r["timestamp"], "value": r["value"], "dimensions": r["dimensions"]} for r in rows
    ]
    chart = ui.chart()
    assert chart is not None
    assert chart["labels"] == [label({"customer_id": "c2", "endpoint": e}) for e in ("/a", "/b")]
    points = sorted(
        (t, y) for ys in chart["ys"] for t, y in zip(chart["x"], ys, strict=True) if y is not None
    )
    assert points == [(r["timestamp"], r["value"]) for r in rows]
    ui.shot("explore-range")


def test_a_shared_url_restores_the_view(
    ui: UI, new_ui: Callable[..., UI], latency: Latency
) -> None:
    token = ui.server.token(latency.tenant, "read")
    ui.sign_in(token)
    pick_metric(ui, "checkout_latency")
    page = ui.page
    # A filter from the dimension panel, a group-by from it, another aggregation.
    page.get_by_role("button", name=re.compile(r"^endpoint\b")).click()
    with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        page.get_by_role("list", name="Values", exact=True).get_by_role(
            "button", name=re.compile(r"^\/a\b")
        ).click()
    ui.settled(sent.value)
    with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        page.get_by_role("button", name="Group by customer_id").click()
    ui.settled(sent.value)
    page.get_by_label("Aggregation").select_option("p95")
    page.get_by_label("Interval").fill("10m")
    body = ui.run()
    assert body["filters"] == {"endpoint": "/a"}
    assert ui.filters() == [["endpoint", "/a"]]
    assert body["groupBy"] == ["customer_id"]
    assert body["aggregation"] == "p95"
    url = page.url
    assert "#/explore?" in url and token not in url
    table = ui.table()
    assert len(table) > 3

    def view(u: UI) -> dict[str, Any]:
        p = u.page
        return {
            "metric": p.get_by_label("Metric", exact=True).input_value(),
            "aggregation": p.get_by_label("Aggregation").input_value(),
            "interval": p.get_by_label("Interval").input_value(),
            "chips": u.filters(),
            "grouped": p.get_by_role("group", name="Group by")
            .get_by_label("customer_id")
            .is_checked(),
            "table": u.table(),
        }

    before = view(ui)
    with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        page.reload()
    assert ui.settled(sent.value) == body
    assert view(ui) == before

    # The same URL in a fresh browser: sign in first, then the same view.
    other = new_ui()
    other.page.goto(url)
    other.page.get_by_label("API token").fill(token)
    with other.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        other.page.get_by_role("button", name="Sign in").click()
    assert other.settled(sent.value) == body
    assert view(other) == before
    assert other.page.url == url


def test_dragging_across_the_chart_zooms_to_that_range(ui: UI, latency: Latency) -> None:
    token = ui.server.token(latency.tenant, "read")
    fragment = "#/explore?metric=checkout_latency&agg=count&interval=1m&g=customer_id"
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, fragment)
    ui.settled(sent.value)
    box = ui.page.locator(".u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.page.mouse.move(box["x"] + box["width"] * 0.3, y)
        ui.page.mouse.down()
        ui.page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
        ui.page.mouse.up()
    body = ui.settled(sent.value)
    start, end = body["timeRange"]["start"], body["timeRange"]["end"]
    assert set(body["timeRange"]) == {"start", "end"}
    assert latency.start_ms < start < end < latency.start_ms + 30 * 60_000
    assert f"start={start}" in ui.page.url and f"end={end}" in ui.page.url
    assert ui.page.get_by_label("Between").is_checked()
    times = [row["time"] for row in ui.table()]
    assert times and all(start - 60_000 < t < end for t in times)
    # The range is in the form to the millisecond, and a reload runs exactly it again.
    local = ui.page.evaluate(
        "(ms) => import('/ui/js/time.js').then((m) => m.toLocalInput(ms))", start
    )
    assert ui.page.get_by_label("Start (local time)").input_value() == local
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.page.reload()
    assert ui.settled(sent.value) == body

    # Typed times: the last ten minutes of the data, in the browser's (UTC) time.
    first = latency.start_ms + 20 * 60_000
    for name, ms in (("Start (local time)", first), ("End (local time)", first + 600_000)):
        ui.page.get_by_label(name).fill(
            ui.page.evaluate("(ms) => import('/ui/js/time.js').then((m) => m.toLocalInput(ms))", ms)
        )
    typed = ui.run()
    assert typed["timeRange"] == {"start": first, "end": first + 600_000}
    assert sorted({row["time"] for row in ui.table()}) == [first + i * 60_000 for i in range(10)]


# (controls set, the field whose error it is, the API's code); each case starts from the default
# view and is fixed by `FIXES` before the next.
BAD_FIELDS = [
    ({"Interval": "5x"}, "q-interval", "invalid_duration"),
    ({"Duration": "banana"}, "q-range", "invalid_duration"),
    ({"Query type": "rate", "Interval": "none"}, "q-interval", "missing_field"),
    ({"Interval": "1s", "Duration": "30d"}, "q-interval", "too_many_buckets"),
    ({"Limit (rows)": "0"}, "q-limit", "invalid_limit"),
    ({"Timeout": "5 minutes"}, "q-timeout", "invalid_timeout"),
]
DEFAULTS = {
    "Query type": "aggregate",
    "Interval": "5m",
    "Duration": "1h",
    "Limit (rows)": "",
    "Timeout": "",
}


def set_controls(ui: UI, values: dict[str, str]) -> None:
    for name, value in values.items():
        control = ui.page.get_by_label(name, exact=True)
        if control.evaluate("(el) => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)


def test_api_errors_are_shown_next_to_their_field(ui: UI, latency: Latency) -> None:
    ui.watch.expect_http_errors(400)
    token = ui.server.token(latency.tenant, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=checkout_latency")
    ui.settled(sent.value)
    page = ui.page
    page.get_by_text("Limit and timeout").click()
    marked = page.locator(".field-error:not([hidden])")
    for setup, field, code in BAD_FIELDS:
        set_controls(ui, setup)
        body = ui.run()
        resp = ui.api(token, "POST", "/api/v1/query", json=body)
        assert resp.status_code == 400
        error = resp.json()["error"]
        assert error["code"] == code, setup
        assert ui.field_error(field) == f"{code} {error['message']}", setup
        assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true"
        assert marked.count() == 1, setup  # only that field
        # Fixing it clears the error.
        set_controls(ui, DEFAULTS)
        ui.run()
        assert marked.count() == 0, setup
        assert page.locator(f"#{field}").get_attribute("aria-invalid") is None
        assert ui.table()


def test_an_empty_filter_value_is_refused_next_to_the_filters(ui: UI, latency: Latency) -> None:
    ui.watch.expect_http_errors(400)
    token = ui.server.token(latency.tenant, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=checkout_latency")
    ui.settled(sent.value)
    ui.page.get_by_label("Key", exact=True).select_option("endpoint")
    ui.page.get_by_role("button", name="Add filter").click()
    ui.run()
    assert ui.field_error("q-filters").startswith("invalid_filter filter 'endpoint' needs")


def test_dimension_values_are_searchable_and_paged(ui: UI, ui_server: LuminateProcess) -> None:
    tenant = new_tenant()
    write(ui_server, tenant, users(250))
    token = ui_server.token(tenant, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=page_views")
    ui.settled(sent.value)
    page = ui.page
    page.get_by_role("button", name=re.compile(r"^user_id\b")).click()
    values = page.get_by_role("list", name="Values", exact=True).get_by_role("button")

    def shown() -> list[str]:
        return values.locator(".name").all_inner_texts()

    def api_values(limit: int) -> list[str]:
        resp = ui.api(
            token, "GET", f"/api/v1/metrics/page_views/dimensions/user_id/values?limit={limit}"
        )
        return [v["value"] for v in resp.json()["values"]]

    page.get_by_role("button", name="Load more").wait_for()
    assert shown() == api_values(100)
    assert shown()[:3] == ["u002", "u005", "u008"]  # three points each: most frequent first
    page.get_by_role("button", name="Load more").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[aria-label=Values] button').length === 250"
    )
    assert shown() == api_values(1000)
    assert page.get_by_role("button", name="Load more").is_hidden()
    page.get_by_label("Search values").fill("u01")
    assert sorted(shown()) == [f"u01{d}" for d in range(10)]
    with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        values.filter(has_text="u017").click()
    assert ui.settled(sent.value)["filters"] == {"user_id": "u017"}
    assert ui.filters() == [["user_id", "u017"]]
    assert [row["count"] for row in ui.table()] == [17 % 3 + 1]  # user k has k % 3 + 1 points


def test_one_value_per_group_is_shown_as_bars(ui: UI, latency: Latency) -> None:
    token = ui.server.token(latency.tenant, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=checkout_latency&agg=max&interval=none&g=endpoint")
    body = ui.settled(sent.value)
    assert "interval" not in body
    rows = answer_of(ui, token, body)["results"]
    assert ui.table() == [
        {"endpoint": r["groupKey"]["endpoint"], "value": r["value"], "count": r["count"]}
        for r in rows
    ]
    bars = ui.page.get_by_role("list", name="Value per group")
    assert bars.locator(".bar-label").all_inner_texts() == [label(r["groupKey"]) for r in rows]
    assert [float(v) for v in bars.locator(".num").all_inner_texts()] == [r["value"] for r in rows]
    assert ui.chart() is None
