from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from luminate.auth.jwks import FileKeySource
from luminate.auth.tokens import Scope, TokenVerifier, create_token, load_signing_key
from luminate.model.errors import ErrorCode, Forbidden, Unauthorized
from tests.unit.test_jwks import EC_A, EC_B, RSA_A, RSA_B, SigningKey, ec_key, write_jwks

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


# -- RS256 / ES256 with keys from a JWKS ---------------------------------------------------------

ISSUER, AUDIENCE = "https://idp", "luminate"


@pytest.fixture
def jwks_path(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    write_jwks(path, RSA_A.jwk(), EC_A.jwk())
    return path


def asymmetric(
    path: Path, algorithms: list[str] | None = None, secret: str = SECRET
) -> TokenVerifier:
    algorithms = algorithms or ["HS256", "RS256", "ES256"]
    keys = FileKeySource(str(path), [a for a in algorithms if not a.startswith("HS")])
    return TokenVerifier(secret, algorithms=algorithms, keys=keys)


@pytest.mark.parametrize("key", [RSA_A, EC_A], ids=lambda k: k.algorithm)
def test_rs256_and_es256_tokens_verify_with_their_jwks_key(
    jwks_path: Path, key: SigningKey
) -> None:
    p = asymmetric(jwks_path).verify(f"Bearer {key.sign(_claims(scopes=['write'], sub='u2'))}")
    assert (p.tenant, p.scopes, p.subject) == ("acme", frozenset({Scope.WRITE}), "u2")


def test_hs256_still_verifies_beside_a_jwks(jwks_path: Path) -> None:
    assert asymmetric(jwks_path).verify("Bearer " + jwt.encode(_claims(), SECRET)).tenant == "acme"


def test_create_token_signs_with_a_private_key_and_names_its_kid(jwks_path: Path) -> None:
    key, algorithm = load_signing_key(EC_A.private_pem())
    token = create_token(
        key, tenant="acme", scopes=["read"], ttl_s=60, algorithm=algorithm, kid="ec-a"
    )
    assert jwt.get_unverified_header(token)["kid"] == "ec-a"
    assert asymmetric(jwks_path).verify(f"Bearer {token}").tenant == "acme"


def hmac_forged(claims: dict[str, object], key: bytes, alg: str = "HS256", **header: object) -> str:
    """A token whose header says `alg`, MAC'd with `key` (which PyJWT refuses to do for PEMs)."""
    signing_input = f"{b64({'alg': alg, 'typ': 'JWT', **header})}.{b64(claims)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


P384 = SigningKey("ec-a", ec_key(2, "P-384"), "ES384")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(
            lambda: hmac_forged(_claims(), RSA_A.public_pem()), "Signature", id="hs256-rsa-pem"
        ),
        pytest.param(
            lambda: hmac_forged(_claims(), RSA_A.public_pem(), kid="rsa-a"),
            "Signature",
            id="hs256-rsa-pem-with-kid",
        ),
        pytest.param(
            lambda: hmac_forged(_claims(), RSA_A.public_pem(), alg="RS256", kid="rsa-a"),
            "Signature",
            id="rs256-header-hmac-signature",
        ),
        pytest.param(
            lambda: b64({"alg": "none", "kid": "rsa-a"}) + "." + b64(_claims()) + ".",
            "'none' is not accepted",
            id="alg-none",
        ),
        pytest.param(
            lambda: SigningKey("ec-a", RSA_A.private, "RS256").sign(_claims()),
            "EC P-256 key and does not verify RS256",
            id="rs256-naming-an-ec-key",
        ),
        pytest.param(
            lambda: SigningKey("rsa-a", EC_A.private, "ES256").sign(_claims()),
            "RSA key and does not verify ES256",
            id="es256-naming-an-rsa-key",
        ),
        pytest.param(lambda: P384.sign(_claims()), "'ES384' is not accepted", id="es384"),
        pytest.param(
            lambda: SigningKey("rsa-a", RSA_A.private, "RS512").sign(_claims()),
            "'RS512' is not accepted",
            id="rs512",
        ),
        pytest.param(
            lambda: SigningKey("rsa-a", RSA_B.private, "RS256").sign(_claims()),
            "Signature",
            id="other-rsa-key-same-kid",
        ),
        pytest.param(
            lambda: SigningKey("ec-a", EC_B.private, "ES256").sign(_claims()),
            "Signature",
            id="other-ec-key-same-kid",
        ),
        pytest.param(
            lambda: RSA_B.sign(_claims()),
            "token key id 'rsa-b' is not in the JWKS",
            id="unknown-kid",
        ),
        pytest.param(
            lambda: jwt.encode(_claims(), RSA_A.private, algorithm="RS256"),
            "no kid",
            id="no-kid",
        ),
        pytest.param(
            lambda: RSA_A.sign(_claims(), kid="k" * 300), "not in the JWKS", id="huge-kid"
        ),
        pytest.param(lambda: RSA_A.sign(_claims(tenant_id=None)), "tenant_id", id="no-tenant"),
        pytest.param(lambda: RSA_A.sign(_claims(exp=None)), "exp", id="no-exp"),
    ],
)
def test_rejected_asymmetric_tokens(jwks_path: Path, token: Any, message: str) -> None:
    with pytest.raises(Unauthorized) as info:
        asymmetric(jwks_path).verify(f"Bearer {token()}")
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert message in info.value.message


def test_an_rs_only_verifier_refuses_every_hs_token(jwks_path: Path) -> None:
    v = asymmetric(jwks_path, ["RS256"], secret="")
    for token in (jwt.encode(_claims(), SECRET), hmac_forged(_claims(), RSA_A.public_pem())):
        with pytest.raises(Unauthorized, match="'HS256' is not accepted"):
            v.verify(f"Bearer {token}")
    assert v.verify(f"Bearer {RSA_A.sign(_claims())}").tenant == "acme"


def test_expiry_issuer_and_audience_apply_to_asymmetric_tokens(jwks_path: Path) -> None:
    keys = FileKeySource(str(jwks_path), ["ES256"])
    v = TokenVerifier(algorithms=["ES256"], keys=keys, issuer=ISSUER, audience=AUDIENCE)
    assert v.verify(f"Bearer {EC_A.sign(_claims(iss=ISSUER, aud=AUDIENCE))}").tenant == "acme"
    with pytest.raises(Unauthorized) as info:
        v.verify(f"Bearer {EC_A.sign(_claims(iss=ISSUER, aud=AUDIENCE, exp=1))}")
    assert info.value.code is ErrorCode.TOKEN_EXPIRED
    with pytest.raises(Unauthorized, match="Audience"):
        v.verify(f"Bearer {EC_A.sign(_claims(iss=ISSUER, aud='other'))}")


def test_rotation_in_the_jwks_file_reaches_the_verifier(jwks_path: Path) -> None:
    v = asymmetric(jwks_path)
    new = RSA_B.sign(_claims())
    with pytest.raises(Unauthorized, match="'rsa-b' is not in the JWKS"):
        v.verify(f"Bearer {new}")
    write_jwks(jwks_path, RSA_A.jwk(), EC_A.jwk(), RSA_B.jwk())
    assert v.verify(f"Bearer {new}").tenant == "acme"
    write_jwks(jwks_path, RSA_B.jwk())
    assert v.verify(f"Bearer {new}").tenant == "acme"
    with pytest.raises(Unauthorized, match="'rsa-a' is not in the JWKS"):
        v.verify(f"Bearer {RSA_A.sign(_claims())}")


def test_asymmetric_configuration_is_checked(jwks_path: Path) -> None:
    with pytest.raises(ValueError, match="LUMINATE_JWT_JWKS_FILE or LUMINATE_JWT_JWKS_URL"):
        TokenVerifier(SECRET, algorithms=["RS256"])
    with pytest.raises(ValueError, match="at least 48 bytes for HS384"):
        TokenVerifier(SECRET[:40], algorithms=["HS384"])
    assert asymmetric(jwks_path, ["ES256"], secret="") is not None


@pytest.mark.parametrize(
    ("key", "algorithm", "expected"),
    [
        (RSA_A, None, "RS256"),
        (RSA_A, "RS512", "RS512"),
        (EC_A, None, "ES256"),
        (P384, None, "ES384"),
    ],
)
def test_the_signing_algorithm_follows_the_key(
    key: SigningKey, algorithm: str | None, expected: str
) -> None:
    assert load_signing_key(key.private_pem(), algorithm)[1] == expected


@pytest.mark.parametrize(
    ("pem", "algorithm", "message"),
    [
        (RSA_A.private_pem(), "ES256", "RSA key signs RS256, RS384, RS512, not ES256"),
        (EC_A.private_pem(), "RS256", "EC P-256 key signs ES256, not RS256"),
        (P384.private_pem(), "ES256", "EC P-384 key signs ES384, not ES256"),
        (EC_A.private_pem(), "HS256", "not HS256"),
        (RSA_A.public_pem(), None, "not an unencrypted PEM private key"),
        (b"garbage", None, "not an unencrypted PEM private key"),
    ],
)
def test_signing_keys_must_fit_the_algorithm(
    pem: bytes, algorithm: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_signing_key(pem, algorithm)
