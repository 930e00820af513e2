"""Driving the web UI in a real browser as a user would (labels, roles, keys), and reading back
what it shows: the table's cells, the chart's series, the page's requests and console."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import ConsoleMessage, Dialog, Page, Request

from tests.app.bodies import TIMEOUT_S
from tests.e2e.server import LuminateProcess

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "test-output" / "ui"
# What Chromium logs for an answer >= 400 (the UI shows the error; the browser logs it too).
_HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


@dataclass
class Watch:
    """What a page did that a user would not see: requests, console errors, script errors."""

    origin: str
    requests: list[Request] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)
    expected_console: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("dialog", self._dialog)

    def _request(self, request: Request) -> None:
        # A bound method of ours, not list.append: Playwright tags its handlers with attributes.
        self.requests.append(request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def expect_http_errors(self, *statuses: int) -> None:
        """Answers with these statuses are part of the test; the browser's log lines for them
        are not errors of the page."""
        self.expected_statuses.update(statuses)

    def expect_console(self, pattern: str) -> None:
        self.expected_console.append(re.compile(pattern))

    def unexpected_console_errors(self) -> list[str]:
        out = []
        for text in self.console_errors:
            status = _HTTP_ERROR.search(text)
            if status and int(status.group(1)) in self.expected_statuses:
                continue
            if any(p.search(text) for p in self.expected_console):
                continue
            out.append(text)
        return out

    def foreign_requests(self) -> list[str]:
        want = urlsplit(self.origin)
        return [
            r.url
            for r in self.requests
            if (urlsplit(r.url).scheme, urlsplit(r.url).netloc) != (want.scheme, want.netloc)
        ]

    def check(self) -> None:
        assert not self.page_errors, f"script errors: {self.page_errors}"
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert not self.unexpected_console_errors(), self.unexpected_console_errors()
        assert self.requests, "the page sent no request at all"
        assert not self.foreign_requests(), f"requests to other hosts: {self.foreign_requests()}"


@dataclass
class UI:
    page: Page
    server: LuminateProcess
    watch: Watch

    # -- navigation and session ---------------------------------------------------------------

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.server.url}/ui/{fragment}")

    def sign_in(self, token: str, fragment: str = "") -> None:
        """Open the page (at `fragment`) and sign in with `token`."""
        self.open(fragment)
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.locator("#tenant").wait_for()

    def session_token(self) -> str | None:
        value: str | None = self.page.evaluate("() => sessionStorage.getItem('luminate.token')")
        return value

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    # -- explore ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Click Run; the query body the page sent, once the page shows its answer or error."""
        with self.page.expect_request(lambda r: r.url.endswith("/api/v1/query")) as sent:
            self.page.get_by_role("button", name="Run query").click()
        return self.settled(sent.value)

    def settled(self, request: Request) -> dict[str, Any]:
        """Wait for the answer to `request` to be shown; its body."""
        request.response()
        # The button reads "Running…" until the answer or the error is on the page.
        self.page.get_by_role("button", name="Run query", exact=True).wait_for()
        body: dict[str, Any] = json.loads(request.post_data or "null")
        return body

    def table(self) -> list[dict[str, Any]]:
        """The results table as shown: one dict per row, by header. Times are read from their
        `datetime` attribute (epoch ms), numbers from their text, dimension lists as dicts,
        "(missing)" as None, everything else as the text shown."""
        rows: list[dict[str, Any]] = self.page.evaluate(_READ_TABLE)
        return rows

    def filters(self) -> list[list[str]]:
        """The filter chips as [key, value] pairs, as shown."""
        chips: list[list[str]] = self.page.locator(".chip").evaluate_all(
            "(els) => els.map((e) => [e.querySelector('.key').textContent,"
            " e.querySelector('.value').textContent])"
        )
        return chips

    def chart(self) -> dict[str, Any] | None:
        """The chart's labels and the x and y arrays uPlot draws."""
        snap: dict[str, Any] | None = self.page.evaluate(
            "() => import('/ui/js/chart.js').then((m) => m.snapshot())"
        )
        return snap

    def field_error(self, field_id: str) -> str:
        slot = self.page.locator(f"#{field_id}-error")
        slot.wait_for()
        return slot.inner_text()

    # -- the API, beside the page --------------------------------------------------------------

    def api(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(
            method, self.server.url + path, headers=headers, timeout=TIMEOUT_S, **kwargs
        )


_READ_TABLE = """() => {
  const table = document.querySelector('#table table');
  if (!table) return [];
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  return [...table.querySelectorAll('tbody tr')].map((tr) => {
    const row = {};
    [...tr.children].forEach((td, i) => {
      const time = td.querySelector('time');
      const num = td.querySelector('.num');
      const dims = td.querySelector('ul.dims');
      if (time) row[heads[i]] = Date.parse(time.getAttribute('datetime'));
      else if (num) row[heads[i]] = num.textContent === 'null' ? null : Number(num.textContent);
      else if (dims) row[heads[i]] = Object.fromEntries([...dims.children].map(
        (li) => [li.children[0].textContent, li.children[1].textContent]));
      else row[heads[i]] = td.querySelector('.muted') ? null : td.textContent;
    });
    return row;
  });
}"""
