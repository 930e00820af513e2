"""Bearer tokens over HTTP: every protected endpoint refuses a missing, malformed, forged, expired
or under-scoped token with the stable codes and the one error shape; issuer and audience are
enforced when configured."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from luminate.storage.embedded import EmbeddedEngine
from tests.app.inprocess import InProcessApp, serving
from tests.support.clock import now_ms, now_s
from tests.support.errors import assert_error
from tests.support.tenants import new_tenant
from tests.support.tokens import TEST_SECRET, bearer

OTHER_SECRET = "another-secret-9876543210-zyxwvutsrqpon"
ISSUER = "https://issuer.luminate.test"
AUDIENCE = "luminate-api"
LEEWAY_S = 30
TIMEOUT_S = 30.0

Digest = Callable[[], Any]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: object) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def claims_for(tenant: str, scopes: object = ("read", "write"), **over: object) -> dict[str, Any]:
    """Claims of a valid token; `None` (for `scopes` or in `over`) removes a claim."""
    claims: dict[str, Any] = {
        "tenant_id": tenant,
        "scopes": list(scopes) if isinstance(scopes, tuple) else scopes,
        "iat": now_s(),
        "exp": now_s() + 600,
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def forge(
    claims: dict[str, Any],
    *,
    alg: str = "HS256",
    key: str | None = TEST_SECRET,
    digest: Digest = hashlib.sha256,
) -> str:
    """A compact JWS built by hand: the header says `alg`, the signature is an HMAC with `digest`
    over `key` (or empty when `key` is None)."""
    signing_input = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims)}"
    if key is None:
        return f"{signing_input}."
    mac = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(mac)}"


def list_metrics(proc: InProcessApp, headers: dict[str, str]) -> httpx.Response:
    return proc.client.get("/api/v1/metrics", headers=headers, timeout=TIMEOUT_S)


def stored_metric_names(proc: InProcessApp, tenant: str) -> list[str]:
    resp = list_metrics(proc, proc.headers(tenant, "read"))
    assert resp.status_code == 200, resp.text
    return [m["name"] for m in resp.json()["metrics"]]


def one_point(name: str = "auth_probe") -> dict[str, Any]:
    return {"metrics": [{"name": name, "timestamp": now_ms(), "value": 1.0}]}


# -- every protected endpoint -------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    id: str
    method: str
    path: str
    scope: str
    body: Callable[[], dict[str, Any]] | None = None

    def call(self, proc: InProcessApp, headers: dict[str, str]) -> httpx.Response:
        payload = self.body() if self.body is not None else None
        return proc.client.request(
            self.method, self.path, headers=headers, json=payload, timeout=TIMEOUT_S
        )


ENDPOINTS = [
    Endpoint("write", "POST", "/api/v1/write", "write", one_point),
    Endpoint(
        "query",
        "POST",
        "/api/v1/query",
        "read",
        lambda: {"queryType": "range", "metricName": "auth_probe", "timeRange": {"relative": "1h"}},
    ),
    Endpoint("metrics", "GET", "/api/v1/metrics", "read"),
    Endpoint("dimensions", "GET", "/api/v1/metrics/auth_probe/dimensions", "read"),
    Endpoint("dimension-values", "GET", "/api/v1/metrics/auth_probe/dimensions/k/values", "read"),
    Endpoint("cardinality", "GET", "/api/v1/cardinality", "read"),
    Endpoint("set-retention", "POST", "/api/v1/admin/retention", "admin", lambda: {"days": 3650}),
    Endpoint("get-retention", "GET", "/api/v1/admin/retention", "admin"),
    Endpoint("delete-metric", "DELETE", "/api/v1/admin/metrics/auth_probe?before=0", "admin"),
]

SCOPE_SETS = ["read", "write", "admin", "read,write", "read,write,admin"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_every_protected_endpoint_needs_a_token(server: InProcessApp, endpoint: Endpoint) -> None:
    assert_error(endpoint.call(server, {}), 401, "missing_token")


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=lambda s: s.replace(",", "+"))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_scope_matrix(server: InProcessApp, endpoint: Endpoint, scopes: str) -> None:
    """A token is allowed exactly where it holds the endpoint's scope; otherwise 403."""
    resp = endpoint.call(server, server.headers(new_tenant(), scopes))
    if endpoint.scope in scopes.split(","):
        assert resp.status_code == 200, resp.text
    else:
        error = assert_error(resp, 403, "insufficient_scope")["error"]
        assert error["details"] == {"required": endpoint.scope}
        assert "www-authenticate" not in resp.headers


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/startupz", "/api/v1/health", "/metrics"])
def test_health_and_self_metrics_need_no_token(server: InProcessApp, path: str) -> None:
    # The probes answer on both listeners; the self-metrics and detailed health only internally.
    assert server.internal.get(path, timeout=TIMEOUT_S).status_code == 200


# -- token validity -----------------------------------------------------------------------------

Header = Callable[[str], dict[str, str]]


def _expired_beyond_leeway(tenant: str) -> dict[str, str]:
    return bearer(forge(claims_for(tenant, exp=now_s() - LEEWAY_S - 90)))


def _tampered(tenant: str) -> dict[str, str]:
    """A token of this tenant whose payload is swapped for another tenant's, signature kept."""
    head, _, sig = forge(claims_for(tenant)).split(".")
    return bearer(f"{head}.{segment(claims_for('victim-tenant'))}.{sig}")


def tok(tenant: str, scopes: object = ("read", "write"), **over: object) -> dict[str, str]:
    """Authorization header with a correctly signed HS256 token for these claims."""
    return bearer(forge(claims_for(tenant, scopes, **over)))


def signed(alg: str, key: str | None, digest: Digest = hashlib.sha256) -> Header:
    return lambda t: bearer(forge(claims_for(t), alg=alg, key=key, digest=digest))


def scheme(prefix: str) -> Header:
    return lambda t: {"Authorization": prefix + forge(claims_for(t))}


def raw(value: str) -> Header:
    return lambda t: {"Authorization": value}


def bad_tenant(tenant_id: object) -> Header:
    return lambda t: tok(t, tenant_id=tenant_id)


REJECTED: list[tuple[str, Header, int, str]] = [
    ("no-header", lambda t: {}, 401, "missing_token"),
    ("empty-header", raw(""), 401, "missing_token"),
    ("basic-scheme", raw("Basic dXNlcjpwYXNzd29yZA=="), 401, "invalid_token"),
    ("token-scheme", scheme("Token "), 401, "invalid_token"),
    ("no-scheme", scheme(""), 401, "invalid_token"),
    ("bearer-without-token", raw("Bearer"), 401, "invalid_token"),
    ("not-a-jwt", raw("Bearer not-a-jwt"), 401, "invalid_token"),
    ("three-garbage-segments", raw("Bearer abc.def.ghi"), 401, "invalid_token"),
    ("header-not-json", raw(f"Bearer {b64url(b'{oops')}.{segment({})}.c2ln"), 401, "invalid_token"),
    ("expired-beyond-leeway", _expired_beyond_leeway, 401, "token_expired"),
    ("wrong-secret", signed("HS256", OTHER_SECRET), 401, "invalid_token"),
    ("tampered-payload", _tampered, 401, "invalid_token"),
    ("alg-none", signed("none", None), 401, "invalid_token"),
    ("alg-None", signed("None", None), 401, "invalid_token"),
    ("alg-NONE", signed("NONE", None), 401, "invalid_token"),
    ("alg-none-with-hmac-signature", signed("none", TEST_SECRET), 401, "invalid_token"),
    ("hs256-without-signature", signed("HS256", None), 401, "invalid_token"),
    ("hs512-same-secret", signed("HS512", TEST_SECRET, hashlib.sha512), 401, "invalid_token"),
    ("hs384-same-secret", signed("HS384", TEST_SECRET, hashlib.sha384), 401, "invalid_token"),
    ("rs256-header-hmac-signature", signed("RS256", TEST_SECRET), 401, "invalid_token"),
    ("es256-header-hmac-signature", signed("ES256", TEST_SECRET), 401, "invalid_token"),
    ("missing-exp", lambda t: tok(t, exp=None), 401, "invalid_token"),
    ("exp-not-a-number", lambda t: tok(t, exp="tomorrow"), 401, "invalid_token"),
    ("not-yet-valid", lambda t: tok(t, nbf=now_s() + 3600), 401, "invalid_token"),
    ("missing-tenant-id", bad_tenant(None), 401, "invalid_token"),
    ("tenant-id-empty", bad_tenant(""), 401, "invalid_token"),
    ("tenant-id-space", bad_tenant("acme corp"), 401, "invalid_token"),
    ("tenant-id-quote", bad_tenant("acme' OR 1=1 --"), 401, "invalid_token"),
    ("tenant-id-slash", bad_tenant("../other"), 401, "invalid_token"),
    ("tenant-id-newline", bad_tenant("acme\n"), 401, "invalid_token"),
    ("tenant-id-leading-dash", bad_tenant("-acme"), 401, "invalid_token"),
    ("tenant-id-129-chars", bad_tenant("t" * 129), 401, "invalid_token"),
    ("tenant-id-integer", bad_tenant(12345), 401, "invalid_token"),
    ("tenant-id-list", bad_tenant(["acme"]), 401, "invalid_token"),
    ("scopes-object", lambda t: tok(t, {"read": True}), 401, "invalid_token"),
    ("no-scopes-claim", lambda t: tok(t, None), 403, "insufficient_scope"),
    ("unknown-scopes-only", lambda t: tok(t, ["superuser", "*"]), 403, "insufficient_scope"),
]


@pytest.mark.parametrize(
    ("make_headers", "status", "code"),
    [pytest.param(h, s, c, id=i) for i, h, s, c in REJECTED],
)
def test_rejected_tokens(
    server: InProcessApp, make_headers: Header, status: int, code: str
) -> None:
    """A valid token also rides in `?access_token=`: the query string never authenticates."""
    tenant = new_tenant()
    token = forge(claims_for(tenant))
    resp = server.client.get(
        "/api/v1/metrics",
        headers=make_headers(tenant),
        params={"access_token": token},
        timeout=TIMEOUT_S,
    )
    assert_error(resp, status, code)


ACCEPTED: list[tuple[str, Header]] = [
    ("hand-signed-hs256", lambda t: bearer(forge(claims_for(t)))),
    ("lowercase-scheme", lambda t: {"Authorization": f"bearer {forge(claims_for(t))}"}),
    ("expired-within-leeway", lambda t: bearer(forge(claims_for(t, exp=now_s() - 2)))),
    ("scopes-as-space-string", lambda t: bearer(forge(claims_for(t, scopes="read write")))),
    ("tenant-id-128-chars", lambda t: bearer(forge(claims_for("t" * 128)))),
    ("tenant-id-dots-dashes", lambda t: bearer(forge(claims_for("acme.eu-1_prod")))),
    ("iss-aud-ignored-when-unconfigured", lambda t: bearer(forge(claims_for(t, iss="x", aud="y")))),
]


@pytest.mark.parametrize("make_headers", [pytest.param(h, id=i) for i, h in ACCEPTED])
def test_accepted_tokens(server: InProcessApp, make_headers: Header) -> None:
    resp = list_metrics(server, make_headers(new_tenant()))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"metrics": [], "truncated": False}


def test_auth_is_checked_before_the_body_is_parsed(server: InProcessApp) -> None:
    url = "/api/v1/write"
    resp = server.client.post(url, content=b"{not json", timeout=TIMEOUT_S)
    assert_error(resp, 401, "missing_token")
    resp = server.client.post(
        url, content=b"{not json", headers=bearer("abc.def.ghi"), timeout=TIMEOUT_S
    )
    assert_error(resp, 401, "invalid_token")


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda t: {}, id="missing"),
        pytest.param(lambda t: bearer(forge(claims_for(t), key=OTHER_SECRET)), id="wrong-secret"),
        pytest.param(lambda t: bearer(forge(claims_for(t), alg="none", key=None)), id="alg-none"),
        pytest.param(_expired_beyond_leeway, id="expired"),
        pytest.param(lambda t: bearer(forge(claims_for(t, ["read"]))), id="read-only"),
        pytest.param(lambda t: bearer(forge(claims_for(t, ["admin"]))), id="admin-only"),
    ],
)
def test_a_refused_write_stores_nothing(server: InProcessApp, make_headers: Header) -> None:
    tenant = new_tenant()
    resp = server.client.post(
        "/api/v1/write",
        headers=make_headers(tenant),
        json=one_point(),
        timeout=TIMEOUT_S,
    )
    assert resp.status_code in (401, 403), resp.text
    assert stored_metric_names(server, tenant) == []


def test_an_accepted_write_lands_in_the_token_tenant(server: InProcessApp) -> None:
    """Positive control for the test above: the same write with a good token is stored."""
    tenant = new_tenant()
    resp = server.client.post(
        "/api/v1/write",
        headers=bearer(forge(claims_for(tenant, ["write"]))),
        json=one_point(),
        timeout=TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    assert stored_metric_names(server, tenant) == ["auth_probe"]


# -- issuer and audience ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(
    embedded_engine: EmbeddedEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessApp]:
    """An app that requires `iss` and `aud`."""
    with serving(
        embedded_engine,
        tmp_path_factory.mktemp("strict-server"),
        LUMINATE_JWT_ISSUER=ISSUER,
        LUMINATE_JWT_AUDIENCE=AUDIENCE,
    ) as app:
        yield app


ISS_AUD_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("correct-iss-and-aud", {"iss": ISSUER, "aud": AUDIENCE}, True),
    ("aud-list-containing-ours", {"iss": ISSUER, "aud": ["other-api", AUDIENCE]}, True),
    ("missing-iss", {"aud": AUDIENCE}, False),
    ("wrong-iss", {"iss": "https://evil.test", "aud": AUDIENCE}, False),
    ("iss-differs-by-trailing-slash", {"iss": ISSUER + "/", "aud": AUDIENCE}, False),
    ("missing-aud", {"iss": ISSUER}, False),
    ("wrong-aud", {"iss": ISSUER, "aud": "other-api"}, False),
    ("aud-list-without-ours", {"iss": ISSUER, "aud": ["other-api", "third-api"]}, False),
    ("neither", {}, False),
]


@pytest.mark.parametrize(
    ("extra", "accepted"), [pytest.param(e, a, id=i) for i, e, a in ISS_AUD_CASES]
)
def test_issuer_and_audience_are_enforced_when_configured(
    strict_server: InProcessApp, extra: dict[str, Any], accepted: bool
) -> None:
    tenant = new_tenant()
    resp = list_metrics(strict_server, bearer(forge(claims_for(tenant, **extra))))
    if accepted:
        assert resp.status_code == 200, resp.text
        assert resp.json()["metrics"] == []
    else:
        assert_error(resp, 401, "invalid_token")


def test_strict_server_still_refuses_a_forged_token_with_correct_iss_and_aud(
    strict_server: InProcessApp,
) -> None:
    claims = claims_for(new_tenant(), iss=ISSUER, aud=AUDIENCE)
    for token in (forge(claims, key=OTHER_SECRET), forge(claims, alg="none", key=None)):
        assert_error(list_metrics(strict_server, bearer(token)), 401, "invalid_token")
