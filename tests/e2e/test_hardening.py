"""Hardening of the served API, seen from outside: RS256/ES256 tokens with keys from a JWKS file
or URL (and their rotation), algorithm confusion refused, security headers on every response,
CORS only for configured origins, and the request-head limit."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.e2e.server import LuminateProcess, free_port
from tests.unit.test_jwks import (
    EC_A,
    EC_B,
    RSA_A,
    RSA_B,
    JwksServer,
    SigningKey,
    document,
    ec_key,
    write_jwks,
)
from tests.unit.test_tokens import b64, hmac_forged

TIMEOUT_S = 30.0
ORIGIN = "https://app.example"
PORT_ORIGIN = "https://admin.example:8443"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-resource-policy": "same-origin",
}
EXPOSED = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id"
HEAD_LIMIT = 16 * 1024  # the default LUMINATE_HTTP_MAX_HEADER_BYTES


def claims(tenant: str | None = None, **over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "tenant_id": tenant or f"hard-{uuid.uuid4().hex[:12]}",
        "scopes": ["read", "write"],
        "exp": int(time.time()) + 600,
    }
    c.update(over)
    return c


def get_metrics(proc: LuminateProcess, token: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{proc.url}/api/v1/metrics",
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=TIMEOUT_S,
    )


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def eventually(check: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def start(base: Path, **env: str) -> LuminateProcess:
    return LuminateProcess(data_dir=base / "data", log_path=base / "server.log", env_extra=env)


# -- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    write_jwks(path, RSA_A.jwk(), EC_A.jwk())
    return path


@pytest.fixture(scope="module")
def file_server(
    tmp_path_factory: pytest.TempPathFactory, jwks_file: Path
) -> Iterator[LuminateProcess]:
    """HS256 beside RS256/ES256 from a JWKS file; CORS for two origins."""
    proc = start(
        tmp_path_factory.mktemp("file-server"),
        LUMINATE_JWT_ALGORITHMS="HS256,RS256,ES256",
        LUMINATE_JWT_JWKS_FILE=str(jwks_file),
        LUMINATE_CORS_ALLOWED_ORIGINS=f"{ORIGIN},{PORT_ORIGIN}",
        LUMINATE_CORS_MAX_AGE_SECONDS="123",
    )
    try:
        yield proc.start()
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def jwks_endpoint() -> Iterator[JwksServer]:
    server = JwksServer(document(RSA_A.jwk(), EC_A.jwk()))
    yield server
    server.close()


@pytest.fixture(scope="module")
def url_server(
    tmp_path_factory: pytest.TempPathFactory, jwks_endpoint: JwksServer
) -> Iterator[LuminateProcess]:
    """RS256/ES256 only (no HS secret at all), keys from a JWKS URL cached for 5 minutes: new
    keys arrive only through the early refetch for an unknown kid."""
    proc = start(
        tmp_path_factory.mktemp("url-server"),
        JWT_SECRET="",
        LUMINATE_JWT_ALGORITHMS="RS256,ES256",
        LUMINATE_JWT_JWKS_URL=jwks_endpoint.url,
        LUMINATE_JWT_JWKS_CACHE_SECONDS="300",
    )
    try:
        yield proc.start()
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def star_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    proc = start(tmp_path_factory.mktemp("star-server"), LUMINATE_CORS_ALLOWED_ORIGINS="*")
    try:
        yield proc.start()
    finally:
        proc.kill()


# -- RS256 / ES256 from a JWKS file -------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA_A, EC_A], ids=lambda k: k.algorithm)
def test_jwks_file_tokens_are_accepted(file_server: LuminateProcess, key: SigningKey) -> None:
    resp = get_metrics(file_server, key.sign(claims()))
    assert resp.status_code == 200, resp.text
    assert resp.json()["metrics"] == []


def test_hs256_keeps_working_beside_the_jwks(file_server: LuminateProcess) -> None:
    tenant = f"hard-{uuid.uuid4().hex[:12]}"
    assert get_metrics(file_server, file_server.token(tenant, "read")).status_code == 200


def test_the_tenant_comes_from_the_rs256_token(file_server: LuminateProcess) -> None:
    tenant = f"hard-{uuid.uuid4().hex[:12]}"
    point = {"name": "jwks_probe", "timestamp": int(time.time() * 1000), "value": 1.0}
    resp = httpx.post(
        f"{file_server.url}/api/v1/write",
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
    file_server: LuminateProcess, make_token: Callable[[], str], message: str
) -> None:
    resp = get_metrics(file_server, make_token())
    code = "token_expired" if message == "expired" else "invalid_token"
    error = assert_error(resp, 401, code)
    assert message in error["message"]
    assert resp.headers["www-authenticate"] == "Bearer"


def test_jwks_file_rotation_is_seen_by_the_served_process(
    file_server: LuminateProcess, jwks_file: Path
) -> None:
    new = RSA_B.sign(claims())
    assert_error(get_metrics(file_server, new), 401, "invalid_token")
    try:
        write_jwks(jwks_file, RSA_A.jwk(), EC_A.jwk(), RSA_B.jwk())
        assert get_metrics(file_server, new).status_code == 200
        write_jwks(jwks_file, RSA_A.jwk(), EC_A.jwk())
        error = assert_error(get_metrics(file_server, new), 401, "invalid_token")
        assert "'rsa-b' is not in the JWKS" in error["message"]
        # A broken file leaves the last good keys in place.
        jwks_file.write_text("{not json")
        assert get_metrics(file_server, EC_A.sign(claims())).status_code == 200
    finally:
        write_jwks(jwks_file, RSA_A.jwk(), EC_A.jwk())
    log = (file_server.log_path).read_text()
    assert "JWKS file unusable; keeping the previous keys" in log


def test_token_create_signs_with_a_private_key(
    file_server: LuminateProcess, tmp_path: Path
) -> None:
    pem = tmp_path / "ec.pem"
    pem.write_bytes(EC_A.private_pem())
    args = ["token", "create", "--tenant", "acme", "--private-key", str(pem), "--kid", "ec-a"]
    out = luminate_cli(*args, LUMINATE_JWT_ALGORITHMS="RS256,ES256")
    assert out.returncode == 0, out.stderr
    assert get_metrics(file_server, out.stdout.strip()).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kid", "ec-a"), "--kid and --algorithm go with --private-key"),
        (("--private-key", "{pem}"), "--kid is required"),
        (("--private-key", "{pem}", "--kid", "k", "--algorithm", "RS256"), "not RS256"),
        (("--private-key", "{pem}", "--kid", "k", "--algorithm", "ES384"), "not ES384"),
        ((), "accepts no HS algorithm"),
    ],
)
def test_token_create_refuses_keys_that_do_not_fit(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    pem = tmp_path / "ec.pem"
    pem.write_bytes(EC_A.private_pem())
    argv = [a.format(pem=pem) for a in args]
    out = luminate_cli(
        "token", "create", "--tenant", "acme", *argv, LUMINATE_JWT_ALGORITHMS="RS256,ES256"
    )
    assert out.returncode == 2, out.stdout
    assert message in out.stderr


def luminate_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LUMINATE_")}
    base.pop("JWT_SECRET", None)
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "luminate", *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LUMINATE_JWT_ALGORITHMS": "RS256"},
            "set LUMINATE_JWT_JWKS_FILE or LUMINATE_JWT_JWKS_URL",
        ),
        ({"LUMINATE_CORS_ALLOWED_ORIGINS": "https://app.example/"}, "not origins"),
    ],
)
def test_configuration_errors_stop_serve_with_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    out = luminate_cli(
        "serve",
        JWT_SECRET=TEST_SECRET,
        LUMINATE_DATA_DIR=str(tmp_path / "data"),
        LUMINATE_SERVER_HOST="127.0.0.1",
        LUMINATE_SERVER_PORT=str(free_port()),
        **env,
    )
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr


# -- RS256 / ES256 from a JWKS URL --------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA_A, EC_A], ids=lambda k: k.algorithm)
def test_jwks_url_tokens_are_accepted(url_server: LuminateProcess, key: SigningKey) -> None:
    assert get_metrics(url_server, key.sign(claims())).status_code == 200


def test_without_an_hs_algorithm_hs_tokens_are_refused(url_server: LuminateProcess) -> None:
    error = assert_error(get_metrics(url_server, url_server.token("acme")), 401, "invalid_token")
    assert "'HS256' is not accepted" in error["message"]


def test_a_key_added_at_the_url_is_fetched_early_for_its_kid(
    url_server: LuminateProcess, jwks_endpoint: JwksServer
) -> None:
    new = EC_B.sign(claims())
    try:
        jwks_endpoint.body = document(RSA_A.jwk(), EC_A.jwk(), EC_B.jwk())
        # The cache lasts 5 minutes; only the unknown kid can bring the new key in.
        assert eventually(lambda: get_metrics(url_server, new).status_code == 200)
    finally:
        jwks_endpoint.body = document(RSA_A.jwk(), EC_A.jwk())


def test_unknown_kids_do_not_hammer_the_jwks_server(
    url_server: LuminateProcess, jwks_endpoint: JwksServer
) -> None:
    before = jwks_endpoint.fetches
    started = time.monotonic()
    for n in range(40):
        token = SigningKey(f"made-up-{n}", RSA_B.private, "RS256").sign(claims())
        error = assert_error(get_metrics(url_server, token), 401, "invalid_token")
        assert f"'made-up-{n}' is not in the JWKS" in error["message"]
    elapsed = time.monotonic() - started
    # At most one early refetch per cooldown (5 s), plus one already due.
    assert jwks_endpoint.fetches - before <= 2 + int(elapsed / 5)


def test_removed_keys_stop_and_failed_fetches_keep_the_last_good_keys(
    tmp_path: Path,
) -> None:
    endpoint = JwksServer(document(RSA_A.jwk(), EC_A.jwk()))
    proc = start(
        tmp_path,
        LUMINATE_JWT_ALGORITHMS="RS256,ES256",
        LUMINATE_JWT_JWKS_URL=endpoint.url,
        LUMINATE_JWT_JWKS_CACHE_SECONDS="1",
    )
    try:
        proc.start()
        rsa, ec = RSA_A.sign(claims()), EC_A.sign(claims())
        assert get_metrics(proc, ec).status_code == 200
        endpoint.body = document(RSA_A.jwk())
        assert eventually(lambda: get_metrics(proc, ec).status_code == 401)
        assert get_metrics(proc, rsa).status_code == 200

        endpoint.status = 503
        fetches = endpoint.fetches
        # Every request in these seconds is verified with the kept keys while fetches fail.
        deadline = time.monotonic() + 15
        while endpoint.fetches < fetches + 2 and time.monotonic() < deadline:
            assert get_metrics(proc, rsa).status_code == 200
            time.sleep(0.2)
        assert endpoint.fetches >= fetches + 2
        assert get_metrics(proc, rsa).status_code == 200
        assert "JWKS fetch failed; keeping the last good keys" in proc.log_path.read_text()
    finally:
        proc.kill()
        endpoint.close()


# -- security headers ---------------------------------------------------------------------------


def _requests(server: LuminateProcess) -> list[tuple[str, httpx.Response]]:
    token = server.token(f"hard-{uuid.uuid4().hex[:12]}", "read")
    auth = {"Authorization": f"Bearer {token}"}
    url = server.url
    return [
        ("api-200", httpx.get(f"{url}/api/v1/metrics", headers=auth, timeout=TIMEOUT_S)),
        ("api-401", httpx.get(f"{url}/api/v1/metrics", timeout=TIMEOUT_S)),
        ("api-400", httpx.post(f"{url}/api/v1/query", headers=auth, content=b"{", timeout=30)),
        ("api-404", httpx.get(f"{url}/api/v1/nothing", timeout=TIMEOUT_S)),
        ("api-405", httpx.put(f"{url}/api/v1/write", timeout=TIMEOUT_S)),
        ("healthz", httpx.get(f"{url}/healthz", timeout=TIMEOUT_S)),
        ("readyz", httpx.get(f"{url}/readyz", timeout=TIMEOUT_S)),
        ("metrics", httpx.get(f"{url}/metrics", timeout=TIMEOUT_S)),
        ("root-404", httpx.get(f"{url}/", timeout=TIMEOUT_S)),
        ("431", httpx.get(f"{url}/healthz", headers={"X-Big": "a" * 20_000}, timeout=30)),
    ]


def test_every_response_carries_the_security_headers(server: LuminateProcess) -> None:
    for name, resp in _requests(server):
        for header, value in SECURITY_HEADERS.items():
            assert resp.headers.get(header) == value, (name, header, resp.headers)
        api = name.startswith("api")
        assert (resp.headers.get("cache-control") == "no-store") is api, (name, resp.headers)


# -- CORS ---------------------------------------------------------------------------------------


def preflight(
    server: LuminateProcess,
    origin: str,
    method: str = "POST",
    headers: str = "authorization, content-type",
    path: str = "/api/v1/write",
) -> httpx.Response:
    return httpx.options(
        server.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
        timeout=TIMEOUT_S,
    )


def cors_headers(resp: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.startswith("access-control-")}


def test_cors_is_off_by_default(server: LuminateProcess) -> None:
    resp = preflight(server, ORIGIN)
    assert_error(resp, 405, "method_not_allowed")
    assert cors_headers(resp) == {}
    token = server.token(f"hard-{uuid.uuid4().hex[:12]}", "read")
    resp = get_metrics(server, token, Origin=ORIGIN)
    assert resp.status_code == 200
    assert cors_headers(resp) == {}


@pytest.mark.parametrize("origin", [ORIGIN, PORT_ORIGIN])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_preflight_from_an_allowed_origin(
    file_server: LuminateProcess, origin: str, method: str
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
    file_server: LuminateProcess, origin: str, method: str, headers: str, detail: str
) -> None:
    resp = preflight(file_server, origin, method, headers)
    error = assert_error(resp, 400, "cors_not_allowed")
    assert set(error["details"]) == {detail}
    assert cors_headers(resp) == {}
    assert resp.headers["content-security-policy"] == SECURITY_HEADERS["content-security-policy"]


def test_simple_requests_from_an_allowed_origin_can_read_the_answer(
    file_server: LuminateProcess,
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
    file_server: LuminateProcess,
) -> None:
    for origin in ("https://evil.example", None):
        extra = {"Origin": origin} if origin else {}
        resp = get_metrics(file_server, RSA_A.sign(claims()), **extra)
        assert resp.status_code == 200
        assert cors_headers(resp) == {}
        assert "Origin" in resp.headers["vary"]


def test_a_star_allows_any_origin_without_credentials(star_server: LuminateProcess) -> None:
    resp = preflight(star_server, "https://anyone.example", "DELETE", "authorization")
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in resp.headers
    token = star_server.token(f"hard-{uuid.uuid4().hex[:12]}", "read")
    resp = get_metrics(star_server, token, Origin="https://anyone.example")
    assert resp.status_code == 200
    assert cors_headers(resp) == {
        "access-control-allow-origin": "*",
        "access-control-expose-headers": EXPOSED,
    }
    assert_error(preflight(star_server, "https://anyone.example", "PUT"), 400, "cors_not_allowed")


# -- the request-head limit ---------------------------------------------------------------------


def head_of(server: LuminateProcess, size: int) -> bytes:
    """A complete GET /healthz head of exactly `size` bytes."""
    start = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n"
    fixed = len(start) + len("X-Fill: \r\n\r\n")
    return f"{start}X-Fill: {'a' * (size - fixed)}\r\n\r\n".encode()


def exchange(port: int, data: bytes, timeout_s: float = 20.0) -> tuple[int, dict[str, Any] | None]:
    """Send `data`, read until the server closes: the status (0 when the server reset the
    connection before an answer could be read) and the JSON body, if any."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        try:
            sock.sendall(data)
            while chunk := sock.recv(65536):
                received += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
    if not received:
        return 0, None
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    is_json = b"application/json" in head.lower()
    return status, json.loads(body) if is_json else None


def test_a_head_at_the_limit_passes_and_one_byte_more_gets_431(server: LuminateProcess) -> None:
    assert len(head_of(server, HEAD_LIMIT)) == HEAD_LIMIT
    assert exchange(server.port, head_of(server, HEAD_LIMIT))[0] == 200
    status, body = exchange(server.port, head_of(server, HEAD_LIMIT + 1))
    assert status == 431
    assert body is not None
    assert body["error"]["code"] == "headers_too_large"
    assert "LUMINATE_HTTP_MAX_HEADER_BYTES" in body["error"]["message"]
    assert body["error"]["details"] == {
        "limit_bytes": HEAD_LIMIT,
        "setting": "LUMINATE_HTTP_MAX_HEADER_BYTES",
        "size_bytes": HEAD_LIMIT + 1,
    }


def test_oversized_heads_get_431_until_the_server_cuts_them_off(server: LuminateProcess) -> None:
    status, body = exchange(server.port, head_of(server, 3 * HEAD_LIMIT))
    assert status == 431
    assert body is not None
    assert body["error"]["code"] == "headers_too_large"
    # Far past the limit the HTTP server refuses the head itself (400, or a reset when the
    # connection closes with our unread bytes), before it is complete.
    status, body = exchange(server.port, head_of(server, 1024 * 1024))
    assert status in (400, 0)
    assert httpx.get(f"{server.url}/healthz", timeout=TIMEOUT_S).status_code == 200


def test_a_gigantic_unfinished_head_is_cut_off_not_buffered(server: LuminateProcess) -> None:
    """A 1 MB head that never ends: the server answers and closes without waiting for the end
    (a server that buffered heads of any size would wait here forever)."""
    line = b"X-Fill: " + b"a" * 1000 + b"\r\n"
    sent = 0
    closed = False
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            while sent < 1024 * 1024:
                sock.sendall(line * 16)
                sent += len(line) * 16
                if select.select([sock], [], [], 0.01)[0]:
                    break
            answer = sock.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            answer = b""
    assert closed or answer.startswith(b"HTTP/1.1 400") or answer == b""
    assert sent < 1024 * 1024, "the server read a whole megabyte of head"
    assert httpx.get(f"{server.url}/healthz", timeout=TIMEOUT_S).status_code == 200
