"""The UI's shipped files, read as text: the page has no inline script, style or event handler;
its own code has no string-to-HTML sink and no eval; every file names only files that exist;
nothing reaches for another host; and no secret or token is shipped."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from luminate.http.ui import static_dir
from tests.support.tokens import TEST_SECRET

STATIC = static_dir()
OWN_JS = sorted((STATIC / "js").glob("*.js"))
SHIPPED = sorted(p for p in STATIC.rglob("*") if p.is_file())
SINKS = re.compile(
    r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\b"
    r"|setAttribute\(\s*[\"']on|\.srcdoc\b"
)
SECRETS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # a JWT
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"JWT_SECRET\s*="),
    re.compile(re.escape(TEST_SECRET)),
]


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag

    def handle_data(self, data: str) -> None:
        if self._open in ("script", "style") and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def parsed() -> Page:
    page = Page()
    page.feed((STATIC / "index.html").read_text())
    return page


def test_the_page_has_no_inline_code() -> None:
    page = parsed()
    assert page.inline == []
    assert [t for t, _ in page.tags if t == "style"] == []
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
        if tag == "script":
            assert attrs.get("src") and attrs.get("type") == "module", attrs


def test_the_page_names_only_shipped_files() -> None:
    named = [
        attrs[a]
        for _, attrs in parsed().tags
        for a in ("src", "href")
        if attrs.get(a) and not str(attrs[a]).startswith("#") and attrs[a] != "/openapi.json"
    ]
    assert named
    for ref in named:
        assert ref is not None and not re.match(r"([a-z]+:)?//", ref), ref
        assert (STATIC / ref).is_file(), ref


@pytest.mark.parametrize("path", OWN_JS, ids=lambda p: p.name)
def test_own_code_builds_no_html_from_strings(path: Path) -> None:
    code = path.read_text()
    assert not SINKS.findall(code)
    for spec in re.findall(r"""^import .*? from "([^"]+)";$""", code, flags=re.MULTILINE):
        assert spec.startswith("./") or spec.startswith("../"), spec
        assert (path.parent / spec).resolve().is_file(), spec


def test_the_sink_check_can_fail() -> None:
    for bad in (
        "el.innerHTML = x",
        'el.insertAdjacentHTML("beforeend", x)',
        "eval(x)",
        'el.setAttribute("onclick", x)',
        "new Function(x)",
    ):
        assert SINKS.search(bad), bad
    assert not SINKS.search('el.textContent = x; h("button", { onclick: f })')


def test_the_vendored_library_has_no_html_sink_either() -> None:
    assert not SINKS.findall((STATIC / "vendor" / "uplot" / "uPlot.esm.js").read_text())


def test_the_secret_check_can_fail() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiJ0In0.c2ln"
    for bad in (token, "-----BEGIN " + "EC PRIVATE KEY-----", "JWT_SECRET = 'x'", TEST_SECRET):
        assert any(p.search(bad) for p in SECRETS), bad


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(STATIC)))
def test_no_secret_is_shipped(path: Path) -> None:
    text = path.read_text(errors="replace")
    assert [p.pattern for p in SECRETS if p.search(text)] == []


def test_no_code_reaches_another_host() -> None:
    """Only comments of the vendored library mention other hosts (its sources and references);
    no code of ours names a URL with a host."""
    for path in [*OWN_JS, STATIC / "app.css", STATIC / "index.html"]:
        assert not re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text()), path
    vendor = (STATIC / "vendor" / "uplot" / "uPlot.esm.js").read_text()
    for line in vendor.splitlines():
        if re.search(r"https?://", line):
            stripped = line.strip()
            assert stripped.startswith(("//", "*", "/*")) or "http://www.w3.org/" in line, line


def test_the_package_data_globs_cover_every_file() -> None:
    """pyproject.toml ships ui/static/*, js/* and vendor/uplot/* (setuptools globs are not
    recursive): every file under static/ must sit in one of those folders."""
    toml = (STATIC.parents[3] / "pyproject.toml").read_text()
    declared = re.search(r"^luminate = \[(.*)\]$", toml, flags=re.MULTILINE)
    assert declared
    globs = re.findall(r'"(ui/static[^"]*)"', declared.group(1))
    folders = {str(Path(g).parent) for g in globs}
    for path in SHIPPED:
        assert str(Path("ui/static") / path.relative_to(STATIC).parent) in folders, path
