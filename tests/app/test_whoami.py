"""GET /api/v1/auth/whoami: the verified tenant, scopes and expiry of any valid token, the
documented answer shapes, and the same refusals as every authenticated endpoint."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from luminate.auth.tokens import create_token
from luminate.http.openapi.identity import WHOAMI
from tests.app.bodies import TIMEOUT_S
from tests.app.conformance import Contract, served_document
from tests.app.inprocess import InProcessApp
from tests.support.tokens import TEST_SECRET


@pytest.fixture(scope="module")
def contract(server: InProcessApp) -> Contract:
    return Contract(served_document(server))


def whoami(server: InProcessApp, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return server.client.get(WHOAMI, headers=headers, timeout=TIMEOUT_S)


@pytest.mark.parametrize("scopes", [["read"], ["write"], ["admin"], ["read", "write", "admin"]])
def test_any_valid_token_learns_its_claims(
    server: InProcessApp, contract: Contract, scopes: list[str]
) -> None:
    token = create_token(
        TEST_SECRET,
        tenant="acme.eu-1",
        scopes=scopes,
        ttl_s=600,
        subject="ci-bot",
        extra={"org_id": "org-7", "tier": "gold"},
    )
    resp = whoami(server, f"Bearer {token}")
    assert resp.status_code == 200, resp.text
    body = contract.check(resp, WHOAMI)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert body == {
        "tenantId": "acme.eu-1",
        "scopes": sorted(scopes),
        "subject": "ci-bot",
        "orgId": "org-7",
        "tier": "gold",
        "expiresAt": exp * 1000,
    }
    assert abs(body["expiresAt"] - (time.time() + 600) * 1000) < 60_000
    assert resp.headers["cache-control"] == "no-store"


def test_optional_claims_are_null(server: InProcessApp, contract: Contract) -> None:
    resp = whoami(server, f"Bearer {server.token('plain', 'read')}")
    body = contract.check(resp, WHOAMI)
    assert (body["subject"], body["orgId"], body["tier"]) == (None, None, None)
    assert body["scopes"] == ["read"]


def test_a_token_with_no_known_scope_is_still_answered(server: InProcessApp) -> None:
    token = create_token(TEST_SECRET, tenant="t", scopes=[], ttl_s=60, extra={"scopes": ["x"]})
    resp = whoami(server, f"Bearer {token}")
    assert resp.status_code == 200
    assert resp.json()["scopes"] == []


def expired() -> str:
    return create_token(TEST_SECRET, tenant="t", scopes=["read"], ttl_s=-3600)


def other_secret() -> str:
    return create_token(
        "another-secret-0123456789-abcdefghij", tenant="t", scopes=["read"], ttl_s=60
    )


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_token"),
        ("Bearer", "invalid_token"),
        ("Basic dXNlcjpwdw==", "invalid_token"),
        ("Bearer not.a.token", "invalid_token"),
        (f"Bearer {other_secret()}", "invalid_token"),
        (f"Bearer {expired()}", "token_expired"),
    ],
)
def test_refused_tokens(
    server: InProcessApp, contract: Contract, authorization: str | None, code: str
) -> None:
    resp = whoami(server, authorization)
    assert resp.status_code == 401
    body: dict[str, Any] = contract.check(resp, WHOAMI)
    assert body["error"]["code"] == code
    assert resp.headers["www-authenticate"] == "Bearer"


def test_other_methods_are_refused(server: InProcessApp, contract: Contract) -> None:
    resp = server.client.post(WHOAMI, timeout=TIMEOUT_S)
    assert resp.status_code == 405
    assert contract.check(resp, WHOAMI, "get")["error"]["code"] == "method_not_allowed"
    assert set(resp.headers["allow"].split(", ")) == {"GET", "HEAD"}
