"""Tokens verified with keys from a JWKS file, seen from outside: RS256/ES256 beside HS256,
algorithm confusion and forgeries refused, the file's rotation followed by the running app,
a token of `token create` with a private key accepted, and CORS only for the configured origins
(or any origin, without credentials, for "*")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from luminate.storage.embedded import EmbeddedEngine
from tests.app.inprocess import InProcessApp, serving
from tests.support.cli import luminate
from tests.support.errors import assert_error
from tests.support.hardening import (
    ORIGIN,
    SECURITY_HEADERS,
    TIMEOUT_S,
    claims,
    cors_headers,
    get_metrics,
    preflight,
)
from tests.support.tenants import new_tenant
from tests.unit.test_jwks import EC_A, RSA_A, RSA_B, SigningKey, ec_key, write_jwks
from tests.unit.test_tokens import b64, hmac_forged

PORT_ORIGIN = "https://admin.example:8443"
EXPOSED = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id"


# -- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    write_jwks(path, RSA_A.jwk(), EC_A.jwk())
    return path


@pytest.fixture(scope="module")
def file_server(
    embedded_engine: EmbeddedEngine, tmp_path_factory: pytest.TempPathFactory, jwks_file: Path
) -> Iterator[InProcessApp]:
    """HS256 beside RS256/ES256 from a JWKS file; CORS for two origins."""
    with serving(
        embedded_engine,
        tmp_path_factory.mktemp("file-server"),
        LUMINATE_JWT_ALGORITHMS="HS256,RS256,ES256",
        LUMINATE_JWT_JWKS_FILE=str(jwks_file),
        LUMINATE_CORS_ALLOWED_ORIGINS=f"{ORIGIN},{PORT_ORIGIN}",
        LUMINATE_CORS_MAX_AGE_SECONDS="123",
    ) as app:
        yield app


@pytest.fixture(scope="module")
def star_server(
    embedded_engine: EmbeddedEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessApp]:
    with serving(
        embedded_engine, tmp_path_factory.mktemp("star-server"), LUMINATE_CORS_ALLOWED_ORIGINS="*"
    ) as app:
        yield app


# -- RS256 / ES256 from a JWKS file -------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA_A, EC_A], ids=lambda k: k.algorithm)
def test_jwks_file_tokens_are_accepted(file_server: InProcessApp, key: SigningKey) -> None:
    resp = get_metrics(file_server, key.sign(claims()))
    assert resp.status_code == 200, resp.text
    assert resp.json()["metrics"] == []


def test_hs256_keeps_working_beside_the_jwks(file_server: InProcessApp) -> None:
    tenant = new_tenant("hard")
    assert get_metrics(file_server, file_server.token(tenant, "read")).status_code == 200


def test_the_tenant_comes_from_the_rs256_token(file_server: InProcessApp) -> None:
    tenant = new_tenant("hard")
    point = {"name": "jwks_probe", "timestamp": int(time.time() * 1000), "value": 1.0}
    resp = file_server.client.post(
        "/api/v1/write",
        headers={"Authorization": f"Bearer {RSA_A.sign(claims(tenant, scopes=['write']))}"},
        json={"metrics": [point]},
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    names = get_metrics(file_server, EC_A.sign(claims(tenant, scopes=["read"]))).json()
    assert [m["name"] for m in names["metrics"]] == ["jwks_probe"]
    other = get_metrics(file_server, EC_A.sign(claims(scopes=["read"]))).json()
    assert other["metrics"] == []


P384 = SigningKey("ec-a", ec_key(2, "P-384"), "ES384")

REFUSED: list[tuple[str, Callable[[], str], str]] = [
    ("hs256-signed-with-rsa-public-pem", lambda: hmac_forged(claims(), RSA_A.public_pem()), ""),
    (
        "hs256-rsa-pem-naming-the-rsa-kid",
        lambda: hmac_forged(claims(), RSA_A.public_pem(), kid="rsa-a"),
        "",
    ),
    (
        "rs256-header-hmac-with-rsa-pem",
        lambda: hmac_forged(claims(), RSA_A.public_pem(), alg="RS256", kid="rsa-a"),
        "",
    ),
    (
        "es256-header-hmac-with-ec-pem",
        lambda: hmac_forged(claims(), EC_A.public_pem(), alg="ES256", kid="ec-a"),
        "",
    ),
    ("alg-none", lambda: f"{b64({'alg': 'none', 'kid': 'rsa-a'})}.{b64(claims())}.", "'none'"),
    (
        "rs256-naming-an-ec-key",
        lambda: SigningKey("ec-a", RSA_A.private, "RS256").sign(claims()),
        "does not verify RS256",
    ),
    (
        "es256-naming-an-rsa-key",
        lambda: SigningKey("rsa-a", EC_A.private, "ES256").sign(claims()),
        "does not verify ES256",
    ),
    ("es384-not-configured", lambda: P384.sign(claims()), "'ES384' is not accepted"),
    (
        "rs512-not-configured",
        lambda: SigningKey("rsa-a", RSA_A.private, "RS512").sign(claims()),
        "'RS512' is not accepted",
    ),
    (
        "forged-with-another-rsa-key",
        lambda: SigningKey("rsa-a", RSA_B.private, "RS256").sign(claims()),
        "Signature",
    ),
    ("unknown-kid", lambda: RSA_B.sign(claims()), "'rsa-b' is not in the JWKS"),
    ("expired", lambda: EC_A.sign(claims(exp=int(time.time()) - 3600)), "expired"),
]


@pytest.mark.parametrize(
    ("make_token", "message"), [pytest.param(t, m, id=i) for i, t, m in REFUSED]
)
def test_confused_forged_and_unknown_tokens_are_refused(
    file_server: InProcessApp, make_token: Callable[[], str], message: str
) -> None:
    resp = get_metrics(file_server, make_token())
    code = "token_expired" if message == "expired" else "invalid_token"
    error = assert_error(resp, 401, code)["error"]
    assert message in error["message"]
    assert resp.headers["www-authenticate"] == "Bearer"


def test_jwks_file_rotation_is_seen_by_the_served_process(
    file_server: InProcessApp, jwks_file: Path
) -> None:
    new = RSA_B.sign(claims())
    assert_error(get_metrics(file_server, new), 401, "invalid_token")
    try:
        write_jwks(jwks_file, RSA_A.jwk(), EC_A.jwk(), RSA_B.jwk())
        assert get_metrics(file_server, new).status_code == 200
        write_jwks(jwks_file, RSA_A.jwk(), EC_A.jwk())
        error = assert_error(get_metrics(file_server, new), 401, "invalid_token")["error"]
        assert "'rsa-b' is not in the JWKS" in error["message"]
        # A broken file leaves the last good keys in place.
        jwks_file.write_text("{not json")
        assert get_metrics(file_server, EC_A.sign(claims())).status_code == 200
    finally:
        write_jwks(jwks_file, RSA_A.jwk(), EC_A.jwk())
    log = (file_server.log_path).read_text()
    assert "JWKS file unusable; keeping the previous keys" in log


def test_token_create_signs_with_a_private_key(file_server: InProcessApp, tmp_path: Path) -> None:
    pem = tmp_path / "ec.pem"
    pem.write_bytes(EC_A.private_pem())
    args = ["token", "create", "--tenant", "acme", "--private-key", str(pem), "--kid", "ec-a"]
    out = luminate(*args, LUMINATE_JWT_ALGORITHMS="RS256,ES256")
    assert out.returncode == 0, out.stderr
    assert get_metrics(file_server, out.stdout.strip()).status_code == 200


# -- CORS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [ORIGIN, PORT_ORIGIN])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_preflight_from_an_allowed_origin(
    file_server: InProcessApp, origin: str, method: str
) -> None:
    asked = "Authorization, Content-Type, Content-Encoding, X-Request-Id, Accept"
    resp = preflight(file_server, origin, method, asked)
    assert resp.status_code == 204, resp.text
    assert cors_headers(resp) == {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST, DELETE",
        "access-control-allow-headers": "Authorization, Content-Type, Content-Encoding, "
        "X-Request-Id",
        "access-control-max-age": "123",
    }
    assert "Origin" in resp.headers["vary"]
    assert resp.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("origin", "method", "headers", "detail"),
    [
        ("https://evil.example", "POST", "authorization", "origin"),
        ("http://app.example", "POST", "authorization", "origin"),
        ("https://app.example.evil.example", "GET", "", "origin"),
        ("https://admin.example", "GET", "", "origin"),
        ("null", "GET", "", "origin"),
        (ORIGIN, "PUT", "authorization", "method"),
        (ORIGIN, "PATCH", "", "method"),
        (ORIGIN, "POST", "authorization, x-evil", "headers"),
        (ORIGIN, "POST", "cookie", "headers"),
    ],
)
def test_preflight_refused_with_the_error_shape(
    file_server: InProcessApp, origin: str, method: str, headers: str, detail: str
) -> None:
    resp = preflight(file_server, origin, method, headers)
    error = assert_error(resp, 400, "cors_not_allowed")["error"]
    assert set(error["details"]) == {detail}
    assert cors_headers(resp) == {}
    assert resp.headers["content-security-policy"] == SECURITY_HEADERS["content-security-policy"]


def test_simple_requests_from_an_allowed_origin_can_read_the_answer(
    file_server: InProcessApp,
) -> None:
    for token, status in ((RSA_A.sign(claims()), 200), ("not-a-token", 401)):
        resp = get_metrics(file_server, token, Origin=ORIGIN)
        assert resp.status_code == status
        assert cors_headers(resp) == {
            "access-control-allow-origin": ORIGIN,
            "access-control-expose-headers": EXPOSED,
        }
        assert "Origin" in resp.headers["vary"]
        assert "access-control-allow-credentials" not in resp.headers


def test_simple_requests_from_other_origins_get_no_cors_headers(
    file_server: InProcessApp,
) -> None:
    for origin in ("https://evil.example", None):
        extra = {"Origin": origin} if origin else {}
        resp = get_metrics(file_server, RSA_A.sign(claims()), **extra)
        assert resp.status_code == 200
        assert cors_headers(resp) == {}
        assert "Origin" in resp.headers["vary"]


def test_a_star_allows_any_origin_without_credentials(star_server: InProcessApp) -> None:
    resp = preflight(star_server, "https://anyone.example", "DELETE", "authorization")
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in resp.headers
    token = star_server.token(new_tenant("hard"), "read")
    resp = get_metrics(star_server, token, Origin="https://anyone.example")
    assert resp.status_code == 200
    assert cors_headers(resp) == {
        "access-control-allow-origin": "*",
        "access-control-expose-headers": EXPOSED,
    }
    assert_error(preflight(star_server, "https://anyone.example", "PUT"), 400, "cors_not_allowed")
