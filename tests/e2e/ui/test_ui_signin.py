"""Signing in with a token in a real browser: the page shows the verified tenant, scopes and
expiry; a wrong or expired token gets a clear message; the token stays in the tab's session
storage only (no URL, cookie or local storage), and the page signs out when it expires."""

from __future__ import annotations

import re

from luminate.auth.tokens import create_token
from tests.e2e.ui.data import new_tenant
from tests.e2e.ui.driver import UI
from tests.support.tokens import TEST_SECRET


def test_signing_in_shows_tenant_scopes_and_expiry(ui: UI) -> None:
    tenant = new_tenant()
    token = ui.server.token(tenant, "read,write", ttl_s=7200)
    ui.open()
    assert ui.page.title() == "Sign in · Luminate"
    ui.shot("signin")
    ui.sign_in(token)
    page = ui.page
    assert page.locator("#tenant").inner_text() == tenant
    assert page.locator("#scopes").inner_text() == "scopes: read, write"
    who = ui.api(token, "GET", "/api/v1/auth/whoami").json()
    shown = page.evaluate("(ms) => new Date(ms).toLocaleString()", who["expiresAt"])
    assert page.locator("#expiry").inner_text() == f"expires {shown} (in 2 h)"
    assert page.title() == "Explore · Luminate"

    # Where the token is, and where it is not.
    assert ui.session_token() == token
    assert page.evaluate("() => document.cookie") == ""
    assert page.evaluate("() => localStorage.length") == 0
    assert ui.page.context.cookies() == []
    assert all(token not in r.url for r in ui.watch.requests)
    api_calls = [r for r in ui.watch.requests if "/api/" in r.url]
    assert api_calls
    assert all(r.headers.get("authorization") == f"Bearer {token}" for r in api_calls)

    # Signing out forgets it.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API token").wait_for()
    assert ui.session_token() is None
    assert page.locator("#nav").is_hidden()


def test_a_reload_keeps_the_session_of_the_tab(ui: UI) -> None:
    tenant = new_tenant()
    ui.sign_in(ui.server.token(tenant, "read"))
    ui.page.reload()
    assert ui.page.locator("#tenant").inner_text() == tenant


def test_a_wrong_token_gets_a_clear_message(ui: UI) -> None:
    ui.watch.expect_http_errors(401)
    ui.open()
    page = ui.page
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Paste a token first."

    forged = create_token(
        "another-secret-0123456789-abcdefghij", tenant="t", scopes=["read"], ttl_s=60
    )
    for token, message in [
        ("not-a-token", r"^invalid_token invalid token: Not enough segments$"),
        (forged, r"^invalid_token invalid token: Signature verification failed$"),
    ]:
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        alert = page.locator("#token-error")
        alert.get_by_text(re.compile(message)).wait_for()
        assert page.get_by_label("API token").get_attribute("aria-invalid") == "true"
        assert ui.session_token() is None
    assert page.locator("#tenant").count() == 0


def test_an_expired_token_is_refused(ui: UI) -> None:
    ui.watch.expect_http_errors(401)
    expired = create_token(TEST_SECRET, tenant="t", scopes=["read"], ttl_s=-3600)
    ui.open()
    ui.page.get_by_label("API token").fill(expired)
    ui.page.get_by_role("button", name="Sign in").click()
    ui.page.locator("#token-error").get_by_text("token_expired token has expired").wait_for()
    assert ui.session_token() is None


def test_the_page_signs_out_when_the_token_expires(ui: UI) -> None:
    tenant = new_tenant()
    token = create_token(TEST_SECRET, tenant=tenant, scopes=["read"], ttl_s=3)
    ui.sign_in(token)
    assert ui.page.locator("#tenant").inner_text() == tenant
    reason = ui.page.locator("#signin-reason")
    reason.wait_for(timeout=10_000)
    assert reason.inner_text().startswith("token_expired: your token expired at ")
    assert ui.session_token() is None
    assert ui.page.locator("#tenant").count() == 0
    ui.shot("signin-expired")


def test_the_sign_in_works_from_the_keyboard(ui: UI) -> None:
    tenant = new_tenant()
    ui.open()
    page = ui.page
    # The token field has the focus when the page opens.
    page.keyboard.type(ui.server.token(tenant, "read"))
    page.keyboard.press("Enter")
    page.locator("#tenant").wait_for()
    # The view has the focus; back to the Cardinality link, and follow it with Enter.
    page.wait_for_function("() => document.activeElement.id === 'main'")
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("() => document.activeElement.textContent") == "Cardinality":
            break
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash === '#/cardinality'")
    page.get_by_role("heading", name="Series in use").wait_for()


def test_a_token_the_server_refuses_later_signs_out(ui: UI) -> None:
    """The server has the last word: a 401 to any request ends the session with its reason."""
    ui.watch.expect_http_errors(401)
    ui.sign_in(ui.server.token(new_tenant(), "read"))
    page = ui.page
    page.get_by_role("heading", name="Metrics").wait_for()
    page.evaluate("() => sessionStorage.setItem('luminate.token', 'revoked.not.valid')")
    page.get_by_label("Metric", exact=True).fill("anything")
    page.get_by_role("button", name="Run query").click()
    reason = page.locator("#signin-reason")
    reason.wait_for()
    assert reason.inner_text().startswith("invalid_token: invalid token:")
    assert ui.session_token() is None
