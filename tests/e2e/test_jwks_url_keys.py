"""Tokens verified with keys from a JWKS URL, seen from outside: RS256/ES256 accepted with no
HS secret at all, a key added at the URL fetched early for its kid without hammering the JWKS
server, removed keys refused once the cache expires and failed fetches keeping the last good
keys.

A served process, beside a JWKS server on loopback: what these tests wait for is the key
source's own clock (its cache, the cooldown of early refetches), which no in-process run
shortens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import LuminateProcess
from tests.support.errors import assert_error
from tests.support.hardening import claims, get_metrics
from tests.unit.test_jwks import (
    EC_A,
    EC_B,
    RSA_A,
    RSA_B,
    JwksServer,
    SigningKey,
    document,
)


def eventually(check: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


# -- servers ------------------------------------------------------------------------------------


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
    proc = LuminateProcess.in_dir(
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


# -- RS256 / ES256 from a JWKS URL --------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA_A, EC_A], ids=lambda k: k.algorithm)
def test_jwks_url_tokens_are_accepted(url_server: LuminateProcess, key: SigningKey) -> None:
    assert get_metrics(url_server, key.sign(claims())).status_code == 200


def test_without_an_hs_algorithm_hs_tokens_are_refused(url_server: LuminateProcess) -> None:
    error = assert_error(get_metrics(url_server, url_server.token("acme")), 401, "invalid_token")[
        "error"
    ]
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
        error = assert_error(get_metrics(url_server, token), 401, "invalid_token")["error"]
        assert f"'made-up-{n}' is not in the JWKS" in error["message"]
    elapsed = time.monotonic() - started
    # At most one early refetch per cooldown (5 s), plus one already due.
    assert jwks_endpoint.fetches - before <= 2 + int(elapsed / 5)


def test_removed_keys_stop_and_failed_fetches_keep_the_last_good_keys(
    tmp_path: Path,
) -> None:
    endpoint = JwksServer(document(RSA_A.jwk(), EC_A.jwk()))
    proc = LuminateProcess.in_dir(
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
