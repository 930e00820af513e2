"""What a user notices: every control has a label, the pages fit a laptop screen and a narrow
window without sideways scrolling, and the theme follows the system's light or dark setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest

from tests.e2e.server import LuminateProcess
from tests.e2e.ui.data import Latency
from tests.e2e.ui.driver import UI

EXPLORE = "#/explore?metric=checkout_latency&agg=sum&interval=5m&g=customer_id"
# Light and dark backgrounds of app.css.
BACKGROUND = {"light": "rgb(246, 247, 249)", "dark": "rgb(18, 21, 26)"}
AXIS = {"light": "#5a6270", "dark": "#a3abb8"}
# Controls a user can reach that have no accessible name (a <label>, aria-label, or text).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((el) => el.offsetParent !== null || el.type === 'radio')
  .filter((el) => !([...(el.labels ?? [])].some((l) => l.textContent.trim())
    || el.getAttribute('aria-label')
    || (el.tagName !== 'INPUT' && el.textContent.trim())))
  .map((el) => el.outerHTML.slice(0, 120))"""


@pytest.fixture(scope="module")
def latency(ui_server: LuminateProcess) -> Latency:
    return Latency.write(ui_server)


def open_explore(ui: UI, latency: Latency) -> None:
    with ui.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
        ui.sign_in(ui.server.token(latency.tenant, "read"), EXPLORE)
    ui.settled(sent.value)


def open_cardinality(ui: UI) -> None:
    ui.page.get_by_role("link", name="Cardinality").click()
    ui.page.locator("#growth table").first.wait_for()


def overflow(ui: UI) -> int:
    """Pixels the page is wider than the window (0: no sideways scrolling)."""
    width: int = ui.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


def test_every_control_has_a_label(ui: UI, latency: Latency) -> None:
    ui.open()
    assert ui.page.evaluate(UNLABELLED) == []
    open_explore(ui, latency)
    ui.page.get_by_text("Limit and timeout").click()
    ui.page.get_by_role("button", name="customer_id", exact=False).first.click()
    assert ui.page.evaluate(UNLABELLED) == []
    open_cardinality(ui)
    assert ui.page.evaluate(UNLABELLED) == []
    # Control: an input without a label is found.
    ui.page.evaluate("() => document.body.append(document.createElement('input'))")
    assert len(ui.page.evaluate(UNLABELLED)) == 1


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1280, 800), (390, 844)])
def test_the_pages_fit_the_window(
    new_ui: Callable[..., UI], latency: Latency, width: int, height: int
) -> None:
    ui = new_ui(viewport={"width": width, "height": height})
    open_explore(ui, latency)
    assert overflow(ui) == 0
    chart = ui.page.locator(".uplot").bounding_box()
    assert chart is not None and chart["width"] <= width
    if width < 800:
        # One column: the sidebar above the query, not beside it.
        sidebar = ui.page.locator(".sidebar").bounding_box()
        query = ui.page.locator("form.query").bounding_box()
        assert sidebar is not None and query is not None
        assert query["y"] >= sidebar["y"] + sidebar["height"]
        ui.shot("explore-narrow", full_page=True)
    open_cardinality(ui)
    assert overflow(ui) == 0
    if width < 800:
        ui.shot("cardinality-narrow", full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_system(
    new_ui: Callable[..., UI], latency: Latency, scheme: str
) -> None:
    ui = new_ui(color_scheme=scheme)
    ui.open()
    assert (
        ui.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        == (BACKGROUND[scheme])
    )
    open_explore(ui, latency)
    chart = ui.chart()
    assert chart is not None and chart["axis"] == AXIS[scheme]
    ui.shot(f"explore-{scheme}")
    # The chart follows a change of the setting without a reload.
    other: Literal["dark", "light"] = "dark" if scheme == "light" else "light"
    ui.page.emulate_media(color_scheme=other)
    assert (
        ui.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        == (BACKGROUND[other])
    )
    ui.page.wait_for_function(
        "(want) => import('/ui/js/chart.js').then((m) => m.snapshot()?.axis === want)",
        arg=AXIS[other],
    )
