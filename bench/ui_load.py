"""Page weight and load time of the built-in web UI, in headless Chromium against a real
`luminate serve` on loopback.

Two pages, each loaded `--repetitions` times in a fresh browser context (empty cache, so every
load transfers everything):

- `signin`: GET /ui/ with no token, until the sign-in form is shown;
- `explore`: /ui/#/explore?... of a stored metric with a token already in the tab's session
  storage, until the chart and the table of the query's answer are on the page.

Reported per page: bytes transferred (the Resource Timing `transferSize` of the document and
every resource: headers plus gzipped bodies), bytes decoded, requests, and the median and p95 of
first contentful paint, DOMContentLoaded, the load event and (explore) the time until the answer
is shown. Loopback has no network latency: these are the costs of the page and the server, not
of a link.

    .venv/bin/python -m bench.ui_load [--repetitions 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

from bench.server import Server
from bench.stats import percentile
from testbed.browser import launch_chromium

EXPLORE = "#/explore?metric=api_latency&agg=p95&interval=1m&g=customer_id"
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {
    transfer: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
    decoded: nav.decodedBodySize + res.reduce((n, r) => n + r.decodedBodySize, 0),
    requests: 1 + res.length,
    api_requests: res.filter((r) => r.name.includes('/api/')).length,
    fcp_ms: fcp ? fcp.startTime : null,
    dcl_ms: nav.domContentLoadedEventEnd,
    load_ms: nav.loadEventEnd,
    shown_ms: performance.now(),
  };
}"""


def seed(server: Server, token: str) -> None:
    now = int(time.time() * 1000)
    points = [
        {
            "name": "api_latency",
            "timestamp": now - 3_500_000 + i * 5_000,
            "value": float((i * 37) % 400) / 3,
            "dimensions": {"customer_id": f"cust_{i % 3}", "endpoint": f"/e{i % 5}"},
        }
        for i in range(2_000)
    ]
    resp = httpx.post(
        f"http://127.0.0.1:{server.port}/api/v1/write",
        headers={"Authorization": f"Bearer {token}"},
        json={"metrics": points},
        timeout=60,
    )
    resp.raise_for_status()


def load(browser: Browser, url: str, token: str | None, ready: str) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        if token is not None:
            # The tab already holds a session, as after signing in and reloading.
            page.add_init_script(f"sessionStorage.setItem('luminate.token', {json.dumps(token)})")
        page.goto(url)
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("load")
        out: dict[str, Any] = page.evaluate(TIMING)
        return out
    finally:
        context.close()


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: runs[0][k] for k in ("transfer", "decoded", "requests", "api_requests")
    }
    for key in ("fcp_ms", "dcl_ms", "load_ms", "shown_ms"):
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = {
            "p50": round(percentile(values, 50), 1),
            "p95": round(percentile(values, 95), 1),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="luminate-ui-bench-") as work:
        server = Server(Path(work) / "data", Path(work) / "server.log")
        server.start()
        try:
            token = server.token(("read", "write"))
            seed(server, token)
            base = f"http://127.0.0.1:{server.port}/ui/"
            pages = {
                "signin": (base, None, "#token"),
                "explore": (base + EXPLORE, token, "#table table"),
            }
            results: dict[str, Any] = {"load_average_start": os.getloadavg()[0]}
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    for name, (url, tok, ready) in pages.items():
                        load(browser, url, tok, ready)  # warm the server, not the browser
                        runs = [load(browser, url, tok, ready) for _ in range(args.repetitions)]
                        results[name] = summarize(runs)
                        print(f"{name}: {args.repetitions} loads", file=sys.stderr)
                finally:
                    browser.close()
            results["load_average_end"] = os.getloadavg()[0]
        finally:
            server.stop()
    report(results, args.repetitions)
    output = (
        args.output
        or Path("bench/results") / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-ui.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"repetitions": args.repetitions, "pages": results}, indent=2))
    print(f"\nresults: {output}")
    return 0


def report(results: dict[str, Any], repetitions: int) -> None:
    print(f"web UI, headless Chromium, loopback, {repetitions} cold loads per page (ms: p50 / p95)")
    print(
        f"{'page':8} {'transfer':>9} {'decoded':>9} {'reqs':>4} {'FCP':>13} {'DCL':>13} "
        f"{'load':>13} {'shown':>13}"
    )
    for name in ("signin", "explore"):
        r = results[name]
        cells = [
            f"{r[k]['p50']:.0f} / {r[k]['p95']:.0f}"
            for k in ("fcp_ms", "dcl_ms", "load_ms", "shown_ms")
        ]
        print(
            f"{name:8} {r['transfer'] / 1024:>7.1f}KB {r['decoded'] / 1024:>7.1f}KB "
            f"{r['requests']:>4} " + " ".join(f"{c:>13}" for c in cells)
        )
    print(
        f"load average (1 min): {results['load_average_start']:.1f} at start, "
        f"{results['load_average_end']:.1f} at end, on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    sys.exit(main())
