"""How `luminate serve` serves the UI: `/` and `/ui` lead to `/ui/`; every UI answer carries a
strict Content-Security-Policy that the browser enforces (no inline script, no eval, no HTML
from strings, no connection to another host); other methods and missing files get the API's
error shape; files are gzipped; self-metrics name the route, not the file."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest

from luminate.http.ui import UI_CSP
from tests.app.bodies import TIMEOUT_S
from tests.e2e.server import LuminateProcess
from tests.e2e.ui.data import new_tenant
from tests.e2e.ui.driver import UI

FILES = [
    "/ui/",
    "/ui/index.html",
    "/ui/app.css",
    "/ui/favicon.svg",
    "/ui/js/main.js",
    "/ui/js/chart.js",
    "/ui/vendor/uplot/uPlot.esm.js",
    "/ui/vendor/uplot/uPlot.min.css",
]
TYPES = {
    "/": "text/html",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".js": "text/javascript",
    ".html": "text/html",
}


def directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in out, f"{name} twice"
        out[name] = values
    return out


def test_the_policy_is_strict() -> None:
    policy = directives(UI_CSP)
    assert policy["default-src"] == ["'none'"]
    for name in ("script-src", "style-src", "img-src", "connect-src"):
        assert policy[name] == ["'self'"], name
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert policy["require-trusted-types-for"] == ["'script'"]
    assert policy["trusted-types"] == ["'none'"]
    words = " ".join(v for values in policy.values() for v in values)
    for loose in ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "data:", "http:", "https:"):
        assert loose not in words.split() and f"'{loose}'" not in words.split(), loose


@pytest.mark.parametrize("path", FILES)
def test_every_file_is_served_with_the_policy(ui_server: LuminateProcess, path: str) -> None:
    resp = httpx.get(ui_server.url + path, timeout=TIMEOUT_S)
    assert resp.status_code == 200
    assert resp.headers["content-security-policy"] == UI_CSP
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["cross-origin-opener-policy"] == "same-origin"
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["etag"]
    suffix = next(s for s in TYPES if path.endswith(s))
    assert resp.headers["content-type"].split(";")[0] == TYPES[suffix]
    assert not re.search(r"eyJ[A-Za-z0-9_-]{8,}\.", resp.text), "a token in a shipped file"


def test_root_and_ui_lead_to_the_ui(ui_server: LuminateProcess) -> None:
    for path in ("/", "/ui"):
        resp = httpx.get(ui_server.url + path, timeout=TIMEOUT_S)
        assert resp.status_code in (302, 307), path
        assert resp.headers["location"] in ("/ui/", f"{ui_server.url}/ui/"), path
    final = httpx.get(ui_server.url + "/", follow_redirects=True, timeout=TIMEOUT_S)
    assert final.status_code == 200 and final.url.path == "/ui/"
    assert '<script type="module" src="js/main.js"></script>' in final.text


def test_files_are_gzipped_for_browsers(ui_server: LuminateProcess) -> None:
    plain = httpx.get(
        ui_server.url + "/ui/vendor/uplot/uPlot.esm.js",
        headers={"Accept-Encoding": "identity"},
        timeout=TIMEOUT_S,
    )
    with httpx.stream(
        "GET", ui_server.url + "/ui/vendor/uplot/uPlot.esm.js", timeout=TIMEOUT_S
    ) as zipped:
        sent = b"".join(zipped.iter_raw())
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["content-security-policy"] == UI_CSP
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(sent) == plain.content
    assert len(sent) < len(plain.content) / 3


def test_bad_requests_get_the_error_shape(ui_server: LuminateProcess) -> None:
    url = ui_server.url
    for method in ("POST", "PUT", "DELETE"):
        resp = httpx.request(method, url + "/ui/index.html", timeout=TIMEOUT_S)
        assert resp.status_code == 405
        assert resp.json()["error"]["code"] == "method_not_allowed"
        assert set(resp.headers["allow"].split(", ")) == {"GET", "HEAD"}
    for path in ("/ui/nope.js", "/ui/js/", "/ui/../pyproject.toml", "/ui/%2e%2e/app.py"):
        resp = httpx.get(url + path, timeout=TIMEOUT_S)
        assert resp.status_code == 404, path
        assert resp.json()["error"]["code"] == "not_found", path
    resp = httpx.post(url + "/", timeout=TIMEOUT_S)
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == "method_not_allowed"


def test_self_metrics_name_the_route_not_the_file(ui_server: LuminateProcess) -> None:
    httpx.get(ui_server.url + "/ui/js/main.js", timeout=TIMEOUT_S)
    text = httpx.get(ui_server.internal_url + "/metrics", timeout=TIMEOUT_S).text
    assert re.search(r'luminate_http_requests_total\{method="GET",route="/ui",status="200"\}', text)
    assert "main.js" not in text


# Run as a module the page loads from its own origin (served by the test through Playwright's
# routing), so it meets the policy as the page's own code would; code evaluated over the DevTools
# protocol is exempt from some of it.
PROBE = """
const tries = {
  eval: () => eval("1 + 1"),
  function: () => new Function("return 1")(),
  innerHTML: () => { document.createElement("div").innerHTML = "<img src=x>"; },
  inlineScript: () => {
    const s = document.createElement("script");
    s.textContent = "window.ran = 1";
    document.body.append(s);
  },
};
const out = {};
for (const [name, run] of Object.entries(tries)) {
  try { run(); out[name] = "ran"; } catch (e) { out[name] = e.name; }
}
const other = new URL("/healthz", location.href.replace("127.0.0.1", "localhost"));
try { await fetch(other); out.fetch = "ran"; } catch (e) { out.fetch = e.name; }
await new Promise((r) => setTimeout(r, 100));
out.ran = window.ran ?? null;
window.probe = out;
"""


def test_the_browser_enforces_the_policy(ui: UI) -> None:
    """Controls: what the policy forbids really fails in the browser, and says so."""
    ui.sign_in(ui.server.token(new_tenant(), "read"))
    ui.watch.expect_console(r"requires 'Trusted\w+' assignment|Content Security Policy")
    page = ui.page
    page.evaluate(
        "() => { window.violations = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.violations.push(e.violatedDirective)); }"
    )
    page.route(
        "**/ui/probe.js",
        lambda route: route.fulfill(
            body=PROBE, content_type="text/javascript", headers={"Content-Security-Policy": UI_CSP}
        ),
    )
    # (Setting a script element's src is itself refused: Trusted Types.)
    with pytest.raises(Exception, match="TrustedScriptURL"):
        page.add_script_tag(url="/ui/probe.js", type="module")
    page.evaluate("() => import('/ui/probe.js')")
    assert page.evaluate("() => window.probe") == {
        "eval": "EvalError",
        "function": "EvalError",
        "innerHTML": "TypeError",
        "inlineScript": "TypeError",
        "fetch": "TypeError",
        "ran": None,
    }
    with pytest.raises(Exception, match="script"):
        page.add_script_tag(content="window.inline = 1")
    assert page.evaluate("() => window.inline ?? null") is None
    violations = set(page.evaluate("() => window.violations"))
    # Eval is refused before script-src is consulted: with Trusted Types a string is no script.
    assert violations == {"connect-src", "require-trusted-types-for"}
    blocked = " ".join(ui.watch.console_errors)
    assert "requires 'TrustedScript' assignment" in blocked
    assert "requires 'TrustedHTML' assignment" in blocked
    assert 'violates the following Content Security Policy directive: "connect-src' in blocked
