from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from luminate.auth.tokens import Scope, TokenVerifier, create_token
from luminate.errors import ErrorCode, Forbidden, Unauthorized

SECRET = "k" * 64


def verifier(**kw: object) -> TokenVerifier:
    return TokenVerifier(SECRET, algorithms=["HS256"], **kw)  # type: ignore[arg-type]


def b64(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_valid_token_gives_the_tenant_and_scopes() -> None:
    token = create_token(SECRET, tenant="acme", scopes=["read", "write"], ttl_s=60, subject="u1")
    p = verifier().verify(f"Bearer {token}")
    assert (p.tenant, p.scopes, p.subject) == ("acme", frozenset({Scope.READ, Scope.WRITE}), "u1")
    p.require(Scope.READ)
    with pytest.raises(Forbidden) as info:
        p.require(Scope.ADMIN)
    assert info.value.code is ErrorCode.INSUFFICIENT_SCOPE


def _claims(**over: object) -> dict[str, object]:
    c: dict[str, object] = {
        "tenant_id": "acme",
        "scopes": ["read"],
        "exp": int(time.time()) + 86_400,
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, ErrorCode.MISSING_TOKEN),
        ("", ErrorCode.MISSING_TOKEN),
        ("Basic abc", ErrorCode.INVALID_TOKEN),
        ("Bearer ", ErrorCode.INVALID_TOKEN),
        ("Bearer not.a.jwt", ErrorCode.INVALID_TOKEN),
        (
            "Bearer " + jwt.encode(_claims(exp=int(time.time()) - 120), SECRET),
            ErrorCode.TOKEN_EXPIRED,
        ),
        ("Bearer " + jwt.encode(_claims(), "x" * 40), ErrorCode.INVALID_TOKEN),
        ("Bearer " + jwt.encode(_claims(exp=None), SECRET), ErrorCode.INVALID_TOKEN),
        ("Bearer " + jwt.encode(_claims(tenant_id=None), SECRET), ErrorCode.INVALID_TOKEN),
        ("Bearer " + jwt.encode(_claims(tenant_id="a b"), SECRET), ErrorCode.INVALID_TOKEN),
        ("Bearer " + jwt.encode(_claims(tenant_id=5), SECRET), ErrorCode.INVALID_TOKEN),
        ("Bearer " + jwt.encode(_claims(), SECRET, algorithm="HS512"), ErrorCode.INVALID_TOKEN),
        (
            "Bearer " + b64({"alg": "none", "typ": "JWT"}) + "." + b64(_claims()) + ".",
            ErrorCode.INVALID_TOKEN,
        ),
    ],
    ids=[
        "none",
        "empty",
        "basic",
        "bearer-empty",
        "garbage",
        "expired",
        "wrong-key",
        "no-exp",
        "no-tenant",
        "bad-tenant",
        "int-tenant",
        "other-alg",
        "alg-none",
    ],
)
def test_rejected_tokens(header: str | None, code: ErrorCode) -> None:
    with pytest.raises(Unauthorized) as info:
        verifier().verify(header)
    assert info.value.code is code
    assert info.value.status == 401
    assert info.value.headers["WWW-Authenticate"] == "Bearer"


def test_issuer_and_audience_are_enforced_when_configured() -> None:
    v = verifier(issuer="https://idp", audience="luminate")
    good = jwt.encode(_claims(iss="https://idp", aud="luminate"), SECRET)
    assert v.verify(f"Bearer {good}").tenant == "acme"
    for claims in [
        _claims(),
        _claims(iss="https://evil", aud="luminate"),
        _claims(iss="https://idp", aud="other"),
    ]:
        with pytest.raises(Unauthorized):
            v.verify("Bearer " + jwt.encode(claims, SECRET))


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenVerifier("short", algorithms=["HS256"])
    with pytest.raises(ValueError, match="none"):
        TokenVerifier(SECRET, algorithms=["none"])
    with pytest.raises(ValueError, match="unknown scope"):
        create_token(SECRET, tenant="acme", scopes=["root"], ttl_s=60)
