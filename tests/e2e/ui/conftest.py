"""Browser tests of the web UI: one headless Chromium per session, one `luminate serve` shared
by the modules that need no particular settings, a fresh browser context per test. Every page a
test opens is watched: when the test ends, it must not have raised a script error, opened a
dialog, logged a console error the test did not expect, or sent a request to any host but the
server under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from testbed.browser import launch_chromium
from tests.e2e.server import LuminateProcess
from tests.e2e.ui.driver import SHOTS, UI, Watch


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Package-scoped: Playwright's synchronous API runs an event loop on the main thread while
    it is open, which tests after this package (asyncio.run) must not meet."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    """One server for the modules that need no particular settings (each test writes and reads
    its own tenant); modules that do define their own `ui_server`."""
    base = tmp_path_factory.mktemp("ui-server")
    proc = LuminateProcess(data_dir=base / "data", log_path=base / "server.log").start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where the tests save screenshots of each page (kept after the run, ignored by git)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def new_ui(browser: Browser, ui_server: LuminateProcess) -> Iterator[Callable[..., UI]]:
    """Open the UI in a fresh context (its own session storage, as a new browser would);
    `context` options go to Playwright (viewport, color_scheme, bypass_csp, ...)."""
    opened: list[tuple[BrowserContext, Watch]] = []

    def open_ui(server: LuminateProcess | None = None, **context: Any) -> UI:
        target = server or ui_server
        options: dict[str, Any] = {
            "viewport": {"width": 1366, "height": 900},
            "locale": "en-US",
            "timezone_id": "UTC",
            **context,
        }
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(20_000)
        page: Page = ctx.new_page()
        watch = Watch(target.url)
        watch.attach(page)
        opened.append((ctx, watch))
        return UI(page, target, watch)

    yield open_ui
    try:
        for _, watch in opened:
            watch.check()
    finally:
        for ctx, _ in opened:
            ctx.close()


@pytest.fixture
def ui(new_ui: Callable[..., UI]) -> UI:
    return new_ui()
