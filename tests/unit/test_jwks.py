"""Key sources: which JWKS entries become keys, a file reread when it changes, a URL fetched in
the background with a cache, early refetches for unknown kids (throttled) and the last good keys
kept when a fetch fails. The URL tests talk to a real HTTP server on loopback."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from luminate.app import build_verifier
from luminate.auth.jwks import (
    FileKeySource,
    UrlKeySource,
    open_key_source,
    parse_jwks,
)
from luminate.settings import ConfigError, load_settings
from tests.support.tokens import TEST_SECRET

# -- keys and JWKS documents, shared with the end-to-end tests ----------------------------------

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@functools.cache
def rsa_key(n: int = 0, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The n-th RSA test key (generated once per test session)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(n: int = 0, curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    return ec.generate_private_key(curves[curve])


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: PrivateKey
    algorithm: str

    def jwk(self, **extra: Any) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            entry = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            entry = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**entry, "kid": self.kid, "use": "sig", **extra}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.kid, **header}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def private_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


RSA_A = SigningKey("rsa-a", rsa_key(0), "RS256")
RSA_B = SigningKey("rsa-b", rsa_key(1), "RS256")
EC_A = SigningKey("ec-a", ec_key(0), "ES256")
EC_B = SigningKey("ec-b", ec_key(1), "ES256")


def document(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"keys": list(entries)}).encode()


def write_jwks(path: Path, *entries: dict[str, Any]) -> None:
    """Replace the file atomically, as operators are told to."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(document(*entries))
    os.replace(tmp, path)


class JwksServer:
    """A JWKS endpoint on loopback: serves `body` with `status` after `delay_s`, counts GETs."""

    def __init__(self, body: bytes = b"") -> None:
        self.body = body
        self.status = 200
        self.delay_s = 0.0
        self.location = ""
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                time.sleep(server.delay_s)
                self.send_response(server.status)
                if server.location:
                    self.send_header("Location", server.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer(document(RSA_A.jwk(), EC_A.jwk()))
    yield server
    server.close()


def wait_for(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


ASYMMETRIC = ["RS256", "ES256"]

# -- which entries become keys ------------------------------------------------------------------


def test_rsa_and_p256_keys_are_bound_to_their_algorithms() -> None:
    keys = parse_jwks(document(RSA_A.jwk(), EC_A.jwk()), ASYMMETRIC)
    assert set(keys.keys) == {"rsa-a", "ec-a"}
    assert set(keys.keys["rsa-a"].by_algorithm) == {"RS256"}
    assert set(keys.keys["ec-a"].by_algorithm) == {"ES256"}
    assert keys.keys["ec-a"].kind == "EC P-256"
    assert keys.skipped == ()


def test_an_rsa_key_serves_every_configured_rs_algorithm_unless_its_alg_says_otherwise() -> None:
    keys = parse_jwks(document(RSA_A.jwk(), RSA_B.jwk(alg="RS512")), ["RS256", "RS512", "ES256"])
    assert set(keys.keys["rsa-a"].by_algorithm) == {"RS256", "RS512"}
    assert set(keys.keys["rsa-b"].by_algorithm) == {"RS512"}


def _okp() -> dict[str, Any]:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = jwt.utils.base64url_encode(raw).decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "okp"}


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param({**RSA_B.jwk(), "kid": None}, "no kid", id="no-kid"),
        pytest.param(RSA_B.jwk(kid=""), "no kid", id="empty-kid"),
        pytest.param(RSA_B.jwk(use="enc"), "not signatures", id="encryption-key"),
        pytest.param({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}, "verifies none", id="oct"),
        pytest.param(_okp(), "verifies none", id="ed25519"),
        pytest.param(
            SigningKey("p384", ec_key(2, "P-384"), "ES384").jwk(), "verifies none", id="p384"
        ),
        pytest.param(RSA_B.jwk(alg="RS512"), "verifies none", id="alg-not-configured"),
        pytest.param(RSA_B.jwk(alg="ES256"), "verifies none", id="alg-of-other-type"),
        pytest.param(
            SigningKey("weak", rsa_key(3, 1024), "RS256").jwk(), "below 2048", id="rsa-1024"
        ),
        pytest.param(
            {**ECAlgorithm.to_jwk(ec_key(4), as_dict=True), "kid": "private"},
            "private key material",
            id="private-key-published",
        ),
        pytest.param({"kty": "RSA", "kid": "broken", "n": "AQAB"}, "broken", id="malformed"),
        pytest.param("not-an-object", "not an object", id="string"),
    ],
)
def test_unusable_entries_are_skipped_with_a_reason(entry: Any, reason: str) -> None:
    keys = parse_jwks(document(RSA_A.jwk(), entry), ASYMMETRIC)
    assert set(keys.keys) == {"rsa-a"}
    assert len(keys.skipped) == 1
    assert reason in keys.skipped[0]
    assert keys.skipped[0].startswith("keys[1]")


def test_a_duplicate_kid_keeps_the_first_key() -> None:
    keys = parse_jwks(document(RSA_A.jwk(), EC_A.jwk(kid="rsa-a")), ASYMMETRIC)
    assert set(keys.keys["rsa-a"].by_algorithm) == {"RS256"}
    assert "duplicate kid" in keys.skipped[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", '"keys" list'),
        (b'{"keys": {}}', '"keys" list'),
        (b'{"keys": []}', "the list is empty"),
        (document({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}), "no key usable"),
        (b" " * (1024 * 1024 + 1), "larger than"),
    ],
)
def test_a_document_without_usable_keys_is_an_error(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_jwks(data, ASYMMETRIC)


# -- the file source ----------------------------------------------------------------------------


def test_file_keys_follow_the_file(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    write_jwks(path, RSA_A.jwk())
    source = FileKeySource(str(path), ASYMMETRIC)
    assert source.get("rsa-a") is not None
    assert source.get("ec-a") is None

    write_jwks(path, RSA_A.jwk(), EC_A.jwk())
    assert source.get("ec-a") is not None

    write_jwks(path, EC_A.jwk())
    assert source.get("rsa-a") is None
    assert source.get("ec-a") is not None


def test_a_broken_or_missing_file_keeps_the_previous_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jwks.json"
    write_jwks(path, RSA_A.jwk())
    source = FileKeySource(str(path), ASYMMETRIC)
    with caplog.at_level(logging.WARNING, logger="luminate.auth"):
        path.write_text("{half a document")
        assert source.get("rsa-a") is not None
        path.unlink()
        assert source.get("rsa-a") is not None
    assert [r.getMessage() for r in caplog.records] == [
        "JWKS file unusable; keeping the previous keys"
    ] * 2
    write_jwks(path, EC_A.jwk())
    assert source.get("rsa-a") is None
    assert source.get("ec-a") is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "No such file"), (b"{}", '"keys" list'), (document(), "no key usable")],
)
def test_an_unusable_file_at_start_is_an_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        FileKeySource(str(path), ASYMMETRIC)
    assert str(path) in str(info.value)


# -- the URL source -----------------------------------------------------------------------------


def test_url_keys_are_fetched_at_start(jwks_server: JwksServer) -> None:
    source = UrlKeySource(jwks_server.url, ASYMMETRIC, cache_s=300)
    assert jwks_server.fetches == 1
    assert source.get("rsa-a") is not None
    assert source.get("ec-a") is not None
    assert jwks_server.fetches == 1


def test_an_unknown_kid_refetches_early_but_at_most_once_per_cooldown(
    jwks_server: JwksServer,
) -> None:
    source = UrlKeySource(jwks_server.url, ASYMMETRIC, cache_s=300, cooldown_s=0.5)
    jwks_server.body = document(RSA_A.jwk(), EC_A.jwk(), RSA_B.jwk())
    # Within the cooldown of the start-up fetch, a flood of unknown kids fetches nothing.
    for _ in range(50):
        assert source.get("nobody") is None
    assert jwks_server.fetches == 1
    time.sleep(0.6)
    # The first lookup after the cooldown refetches and waits (briefly) for the new key.
    assert source.get("rsa-b") is not None
    assert jwks_server.fetches == 2
    for _ in range(50):
        assert source.get("nobody") is None
    assert jwks_server.fetches <= 3


def test_a_removed_key_stops_verifying_once_the_cache_expires(jwks_server: JwksServer) -> None:
    source = UrlKeySource(jwks_server.url, ASYMMETRIC, cache_s=0.3, cooldown_s=10)
    jwks_server.body = document(EC_A.jwk())
    assert source.get("rsa-a") is not None  # cached
    assert wait_for(lambda: source.get("rsa-a") is None)
    assert source.get("ec-a") is not None


def test_a_failed_fetch_keeps_the_last_good_keys_and_is_logged(
    jwks_server: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    source = UrlKeySource(jwks_server.url, ASYMMETRIC, cache_s=0.2, cooldown_s=0.2)
    jwks_server.status = 503
    with caplog.at_level(logging.WARNING, logger="luminate.auth"):
        assert wait_for(lambda: source.get("rsa-a") is not None and jwks_server.fetches >= 3)
    assert source.get("ec-a") is not None
    failures = [r for r in caplog.records if r.getMessage().startswith("JWKS fetch failed")]
    assert failures
    assert "503" in failures[0].__dict__["error"]
    jwks_server.status = 200
    jwks_server.body = document(EC_B.jwk())
    assert wait_for(lambda: source.get("rsa-a") is None and source.get("ec-b") is not None)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>login</html>"),
        (200, b'{"keys": []}'),
        (302, b""),
        (404, b""),
    ],
    ids=["html", "empty-set", "redirect", "not-found"],
)
def test_a_bad_answer_is_a_failed_fetch(
    jwks_server: JwksServer, status: int, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    source = UrlKeySource(jwks_server.url, ASYMMETRIC, cache_s=0.2, cooldown_s=0.2)
    jwks_server.status, jwks_server.body = status, body
    jwks_server.location = jwks_server.url if status == 302 else ""
    with caplog.at_level(logging.WARNING, logger="luminate.auth"):
        assert wait_for(lambda: source.get("rsa-a") is not None and jwks_server.fetches >= 2)
        assert wait_for(lambda: any("fetch failed" in r.getMessage() for r in caplog.records))
    assert source.get("rsa-a") is not None


def test_a_jwks_server_down_at_start_does_not_stop_the_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = JwksServer(document(RSA_A.jwk()))
    url = server.url
    server.close()
    with caplog.at_level(logging.WARNING, logger="luminate.auth"):
        source = UrlKeySource(url, ASYMMETRIC, cache_s=300, cooldown_s=0.1, wait_s=0.1)
    assert source.get("rsa-a") is None
    assert any("fetch failed" in r.getMessage() for r in caplog.records)


def test_a_hanging_jwks_server_blocks_a_lookup_only_briefly(jwks_server: JwksServer) -> None:
    """Fetches run in a background thread; the one lookup that waits gives up after wait_s, and
    lookups while that fetch hangs do not wait at all."""
    source = UrlKeySource(jwks_server.url, ASYMMETRIC, cache_s=300, cooldown_s=0, wait_s=0.2)
    jwks_server.delay_s = 1.5
    started = time.monotonic()
    assert source.get("rsa-b") is None
    assert time.monotonic() - started < 0.6
    started = time.monotonic()
    for _ in range(20):
        assert source.get("rsa-c") is None
    assert time.monotonic() - started < 0.2
    assert source.get("rsa-a") is not None
    assert jwks_server.fetches == 2


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/jwks", "jwks.json", "http://"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        UrlKeySource(url, ASYMMETRIC, cache_s=300)


# -- configuration ------------------------------------------------------------------------------


def test_no_source_without_a_file_or_url() -> None:
    assert open_key_source(file="", url="", algorithms=["HS256"], cache_s=300) is None


def settings_env(tmp_path: Path, **env: str) -> dict[str, str]:
    base = {"JWT_SECRET": TEST_SECRET, "LUMINATE_DATA_DIR": str(tmp_path / "data")}
    base.update(env)
    return {k: v for k, v in base.items() if v is not None}


def good_file(tmp_path: Path) -> str:
    path = tmp_path / "jwks.json"
    write_jwks(path, RSA_A.jwk(), EC_A.jwk())
    return str(path)


def test_rs_and_es_only_need_no_secret(tmp_path: Path) -> None:
    env = settings_env(
        tmp_path,
        JWT_SECRET="",
        LUMINATE_JWT_ALGORITHMS="RS256,ES256",
        LUMINATE_JWT_JWKS_FILE=good_file(tmp_path),
    )
    verifier = build_verifier(load_settings(env))
    claims = {"tenant_id": "acme", "scopes": ["read"], "exp": int(time.time()) + 60}
    assert verifier.verify(f"Bearer {EC_A.sign(claims)}").tenant == "acme"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LUMINATE_JWT_ALGORITHMS": "RS256"},
            "set LUMINATE_JWT_JWKS_FILE or LUMINATE_JWT_JWKS_URL",
        ),
        ({"LUMINATE_JWT_ALGORITHMS": "HS256,ES256"}, "ES256, which needs public keys"),
        ({"JWT_SECRET": ""}, "JWT_SECRET must be at least 32 bytes"),
        (
            {
                "JWT_SECRET": "short",
                "LUMINATE_JWT_JWKS_FILE": "{file}",
                "LUMINATE_JWT_ALGORITHMS": "HS256,RS256",
            },
            "at least 32 bytes",
        ),
        ({"JWT_SECRET": "x" * 40, "LUMINATE_JWT_ALGORITHMS": "HS512"}, "at least 64 bytes"),
        ({"LUMINATE_JWT_ALGORITHMS": "none"}, "unsupported ['none']"),
        ({"LUMINATE_JWT_ALGORITHMS": "HS256,PS256"}, "unsupported ['PS256']"),
        ({"LUMINATE_JWT_JWKS_FILE": "{file}"}, "no algorithm that uses it"),
        (
            {"LUMINATE_JWT_ALGORITHMS": "RS256", "LUMINATE_JWT_JWKS_FILE": "{missing}"},
            "LUMINATE_JWT_JWKS_FILE",
        ),
        (
            {"LUMINATE_JWT_ALGORITHMS": "RS256", "LUMINATE_JWT_JWKS_FILE": "{invalid}"},
            "not JSON",
        ),
        (
            {"LUMINATE_JWT_ALGORITHMS": "ES256", "LUMINATE_JWT_JWKS_FILE": "{rsa_only}"},
            "no key usable for ES256",
        ),
        (
            {
                "LUMINATE_JWT_ALGORITHMS": "RS256",
                "LUMINATE_JWT_JWKS_FILE": "{file}",
                "LUMINATE_JWT_JWKS_URL": "http://127.0.0.1:1/jwks",
            },
            "not both",
        ),
        (
            {"LUMINATE_JWT_ALGORITHMS": "RS256", "LUMINATE_JWT_JWKS_URL": "file:///etc/passwd"},
            "expected an http(s) URL",
        ),
    ],
)
def test_configuration_errors_are_clear(tmp_path: Path, env: dict[str, str], message: str) -> None:
    invalid = tmp_path / "invalid.json"
    invalid.write_text("{oops")
    rsa_only = tmp_path / "rsa.json"
    write_jwks(rsa_only, RSA_A.jwk())
    names = {
        "file": good_file(tmp_path),
        "missing": str(tmp_path / "missing.json"),
        "invalid": str(invalid),
        "rsa_only": str(rsa_only),
    }
    env = {k: v.format(**names) for k, v in env.items()}
    with pytest.raises(ConfigError) as info:
        build_verifier(load_settings(settings_env(tmp_path, **env)))
    assert message in str(info.value)
