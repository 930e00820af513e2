"""Headless Chromium for tests and benchmarks of the web UI: Debian's `chromium` (installed by
scripts/setup-tools.sh) driven by Playwright through its executable path, since Playwright's own
browser download cannot run here.

Every launch gets a fresh, empty profile: Playwright creates a temporary user data directory for
each `launch()` and removes it on close. The flags keep the browser from reaching any host by
itself (no component updates, sync, field trials or QUIC probes), so every request a test sees
comes from the page."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",  # runs as root in CI, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserMissing(RuntimeError):
    """Chromium is not installed where the tests expect it."""


def launch_chromium(playwright: Playwright, executable: Path = CHROMIUM) -> Browser:
    if not executable.exists():
        raise BrowserMissing(f"{executable} is missing; run scripts/setup-tools.sh (as root)")
    return playwright.chromium.launch(
        executable_path=str(executable), headless=True, args=list(FLAGS)
    )
