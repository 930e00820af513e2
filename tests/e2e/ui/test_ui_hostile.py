"""Hostile names and values (HTML, script, event handlers, URL syntax, bidi and zero-width
characters, the longest allowed strings) are shown as text everywhere the UI shows them and
never interpreted. The page runs with its CSP bypassed here, so what is proven is the page's
own rendering, not the CSP that backs it up."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.server import LuminateProcess
from tests.e2e.ui.data import new_tenant, write
from tests.e2e.ui.driver import UI
from tests.support.clock import now_ms

HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '"><svg onload=window.__pwned=3>',
    "javascript:window.__pwned=4",
    "' onmouseover='window.__pwned=5' x='",
    "&lt;b&gt;entity&lt;/b&gt; &amp; <b>bold</b>",
    "\u202eevil\u202c 🚀 漢字 zero\u200bwidth",
    "a=b&c=d#e?f/%2F..%00",
    "${window.__pwned=6} {{7*7}} %s",
    "x" * 256,
]
LONG_METRIC = "m_" + "x" * 254  # the longest metric name the API accepts
INJECTED = "img, svg:not(.uplot svg), iframe, object, embed, script:not([src])"


@pytest.fixture(scope="module")
def tenant(ui_server: LuminateProcess) -> str:
    name = new_tenant()
    ts = now_ms() - 5 * 60_000
    points: list[dict[str, Any]] = [
        {
            "name": "hostile_values",
            "timestamp": ts + i,
            "value": float(i),
            "dimensions": {"label": v},
        }
        for i, v in enumerate(HOSTILE)
    ]
    points.append(
        {"name": LONG_METRIC, "timestamp": ts, "value": 1.0, "dimensions": {"k": HOSTILE[0]}}
    )
    write(ui_server, name, points)
    return name


@pytest.fixture
def raw_ui(new_ui: Callable[..., UI]) -> UI:
    """A page whose CSP the browser ignores."""
    return new_ui(bypass_csp=True)


def nothing_ran(ui: UI) -> None:
    assert ui.page.evaluate("() => window.__pwned") is None
    assert ui.page.locator(INJECTED).count() == 0
    handlers = ui.page.evaluate(
        "() => [...document.querySelectorAll('*')].flatMap((el) => [...el.attributes]"
        ".filter((a) => a.name.startsWith('on')).map((a) => el.tagName + ' ' + a.name))"
    )
    assert handlers == []


def test_values_are_text_in_the_table_the_chart_and_the_lists(raw_ui: UI, tenant: str) -> None:
    ui = raw_ui
    token = ui.server.token(tenant, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=hostile_values&type=range")
    ui.settled(sent.value)
    page = ui.page
    assert [row["dimensions"]["label"] for row in ui.table()] == HOSTILE
    legend = page.locator(".u-legend .u-series .u-label").all_text_contents()[1:]
    assert legend == [f"label={v}" for v in HOSTILE]
    chart = ui.chart()
    assert chart is not None and chart["labels"] == legend

    page.get_by_role("button", name=re.compile(r"^label\b")).click()
    values = page.get_by_role("list", name="Values", exact=True).locator(".name")
    values.first.wait_for()
    assert sorted(values.all_text_contents()) == sorted(HOSTILE)
    ui.shot("hostile")
    nothing_ran(ui)

    # Each one as a filter: a chip, the URL, the query, and back from the URL after a reload.
    for value in (HOSTILE[0], HOSTILE[7], HOSTILE[9]):
        with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
            values.filter(has_text=value).first.click()
        assert ui.settled(sent.value)["filters"] == {"label": value}
        assert ui.filters() == [["label", value]]
        assert [row["dimensions"]["label"] for row in ui.table()] == [value]
        with page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
            page.reload()
        assert ui.settled(sent.value)["filters"] == {"label": value}
        assert ui.filters() == [["label", value]]
        page.get_by_role("button", name=re.compile(r"^label\b")).click()
        values.first.wait_for()
    nothing_ran(ui)


def test_grouped_values_and_long_names_are_text(raw_ui: UI, tenant: str) -> None:
    ui = raw_ui
    token = ui.server.token(tenant, "read")
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, "#/explore?metric=hostile_values&agg=sum&interval=none&g=label")
    ui.settled(sent.value)
    assert sorted(row["label"] for row in ui.table()) == sorted(HOSTILE)
    bars = ui.page.get_by_role("list", name="Value per group").locator(".bar-label")
    assert sorted(bars.all_text_contents()) == sorted(f"label={v}" for v in HOSTILE)

    names = (
        ui.page.get_by_role("list", name="Metrics", exact=True).locator(".name").all_text_contents()
    )
    assert LONG_METRIC in names
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.page.get_by_role("list", name="Metrics", exact=True).get_by_role(
            "button", name=re.compile("^m_x")
        ).click()
    assert ui.settled(sent.value)["metricName"] == LONG_METRIC
    assert ui.page.get_by_label("Metric", exact=True).input_value() == LONG_METRIC
    assert ui.page.locator("#dims-h + p code").text_content() == LONG_METRIC
    ui.page.get_by_role("link", name="Cardinality").click()
    ui.page.locator("#top-metrics").get_by_role("link", name=LONG_METRIC).wait_for()
    nothing_ran(ui)


def test_a_hostile_url_is_text(raw_ui: UI) -> None:
    """A crafted link: the metric name in it is refused by the API, whose message quotes it;
    the page shows that message as text next to the field."""
    ui = raw_ui
    ui.watch.expect_http_errors(400)
    token = ui.server.token(new_tenant(), "read")
    evil = '<img src=x onerror="window.__pwned=7">'
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(token, f"#/explore?metric={quote(evil)}&f=k%3D{quote(HOSTILE[1])}")
    ui.settled(sent.value)
    error = ui.field_error("q-metric")
    assert error.startswith("invalid_metric_name metric name '<img src=x onerror=")
    assert ui.page.get_by_label("Metric", exact=True).input_value() == evil
    assert ui.filters() == [["k", HOSTILE[1]]]
    dims_error = ui.page.locator("#dims-h ~ div .error-text")
    assert (dims_error.text_content() or "").startswith("invalid_metric_name metric name '<img")
    nothing_ran(ui)
