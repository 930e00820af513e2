"""The OpenAPI document served at /openapi.json: valid OpenAPI 3.1, in step with the routes and
the error codes, and describing what a served process really answers (real responses validate
against the schema documented for their status)."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

from luminate.app import ROUTES
from luminate.auth.tokens import create_token
from luminate.errors import ErrorCode
from luminate.http.openapi import DURATION_PATTERN, build_document
from luminate.ingest.points import PointErrorCode
from luminate.timestamps import parse_duration
from tests.conftest import TEST_SECRET
from tests.e2e.bodies import (
    SMALL_BODY_LIMIT,
    TIMEOUT_S,
    TINY_TIER,
    dumps,
    metrics_body,
    new_tenant,
    now_ms,
    padded,
    point,
)
from tests.e2e.server import LuminateProcess

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
URI = "urn:luminate:openapi"
WRITE = "/api/v1/write"
QUERY = "/api/v1/query"
RETENTION = "/api/v1/admin/retention"
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


class Contract:
    """Looks up what the document promises for (path, method, status) and checks a real
    response against it: documented status, media type, required headers, body schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(URI, resource)

    def resolve(self, node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """A component reference followed: (object, its JSON pointer when it was a ref)."""
        ref = node.get("$ref")
        if ref is None:
            return node, None
        assert ref.startswith("#/"), ref
        target: Any = self.document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target, ref[1:]

    def response(self, path: str, method: str, status: int) -> tuple[dict[str, Any], str]:
        responses = self.document["paths"][path][method]["responses"]
        assert str(status) in responses, (
            f"{method.upper()} {path} answered {status}, which the document does not list "
            f"(documented: {sorted(responses)})"
        )
        found, pointer = self.resolve(responses[str(status)])
        if pointer is None:
            pointer = f"/paths/{escape(path)}/{method}/responses/{status}"
        return found, pointer

    def validate(self, pointer: str, instance: Any) -> None:
        validator = Draft202012Validator({"$ref": f"{URI}#{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, "\n".join(
            f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5]
        )

    def check(self, resp: httpx.Response, path: str, method: str | None = None) -> Any:
        method = (method or resp.request.method).lower()
        spec, pointer = self.response(path, method, resp.status_code)
        for name, declared in spec.get("headers", {}).items():
            header, _ = self.resolve(declared)
            value = resp.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{resp.status_code}: header {name} missing"
                continue
            if header["schema"].get("type") == "integer":
                assert re.fullmatch(r"-?\d+", value), f"{name}: {value!r} is not an integer"
                Draft202012Validator(header["schema"]).validate(int(value))
        media = resp.headers["content-type"].split(";")[0].strip()
        assert media in spec["content"], (
            f"{method.upper()} {path} {resp.status_code}: content type {media}, documented "
            f"{sorted(spec['content'])}"
        )
        body = resp.json() if media == "application/json" else resp.text
        self.validate(f"{pointer}/content/{escape(media)}/schema", body)
        return body


@pytest.fixture(scope="module")
def document(server: LuminateProcess) -> dict[str, Any]:
    resp = httpx.get(server.url + "/openapi.json", timeout=TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    doc: dict[str, Any] = resp.json()
    return doc


@pytest.fixture(scope="module")
def contract(document: dict[str, Any]) -> Contract:
    return Contract(document)


# -- the document itself ------------------------------------------------------------------------


def test_the_served_document_is_the_built_one(document: dict[str, Any]) -> None:
    assert document == build_document()


def iter_schemas(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """Every Schema Object of the document, with its JSON pointer."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{pointer}/{escape(key)}"
            if key == "schema" and isinstance(value, dict):
                yield here, value
            elif key == "schemas" and pointer == "/components":
                yield from ((f"{here}/{escape(k)}", v) for k, v in value.items())
            else:
                yield from iter_schemas(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_schemas(value, f"{pointer}/{i}")


def iter_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_refs(value)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any], contract: Contract) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    # Validates against the OpenAPI 3.1 meta-schema (raises on the first violation).
    schemathesis.openapi.from_dict(copy.deepcopy(document)).validate()
    broken = copy.deepcopy(document)
    del broken["paths"]["/healthz"]["get"]["responses"]["200"]["description"]
    with pytest.raises(Exception, match="description"):
        schemathesis.openapi.from_dict(broken).validate()

    schemas = list(iter_schemas(document))
    assert len(schemas) > 50
    for pointer, schema in schemas:
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:
            pytest.fail(f"{pointer} is not a valid JSON Schema 2020-12 schema: {exc}")
    for ref in set(iter_refs(document)):
        contract.resolve({"$ref": ref})


def test_every_route_is_documented_and_every_operation_is_routed(
    document: dict[str, Any],
) -> None:
    routed: set[tuple[str, str]] = set()
    for route in ROUTES:
        assert isinstance(route, Route), route
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")  # Starlette answers HEAD wherever it answers GET
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        routed |= {(path, m.lower()) for m in methods}
    documented = {(path, method) for path, method, _ in operations(document)}
    undocumented = sorted(f"{m.upper()} {p}" for p, m in routed - documented)
    unrouted = sorted(f"{m.upper()} {p}" for p, m in documented - routed)
    assert not undocumented, f"routes missing from /openapi.json: {undocumented}"
    assert not unrouted, f"documented operations with no route: {unrouted}"


def test_every_error_code_is_documented(contract: Contract) -> None:
    for code in ErrorCode:
        error: dict[str, Any] = {"error": {"code": code.value, "message": "m", "details": {}}}
        contract.validate("/components/schemas/Error", error)
    for point_code in PointErrorCode:
        rejected: dict[str, Any] = {
            "accepted": 0,
            "rejected": 1,
            "errors": [
                {"index": 0, "metric": "m", "error": {"code": point_code.value, "message": "m"}}
            ],
            "error": {"code": ErrorCode.ALL_POINTS_REJECTED.value, "message": "m", "details": {}},
        }
        contract.validate("/components/schemas/WriteRejected", rejected)
    # Controls: codes that do not exist are refused.
    with pytest.raises(AssertionError):
        contract.validate(
            "/components/schemas/Error",
            {"error": {"code": "no_such_code", "message": "m", "details": {}}},
        )
    with pytest.raises(AssertionError):
        contract.validate(
            "/components/schemas/RejectedPoint",
            {"index": 0, "metric": None, "error": {"code": "no_such_code", "message": "m"}},
        )
    schemas = contract.document["components"]["schemas"]
    assert schemas["ErrorCode"]["enum"] == [c.value for c in ErrorCode]
    assert schemas["PointErrorCode"]["enum"] == [c.value for c in PointErrorCode]


RATE_LIMITED = {WRITE, QUERY, "/api/v1/metrics", "/api/v1/cardinality"} | {
    "/api/v1/metrics/{name}/dimensions",
    "/api/v1/metrics/{name}/dimensions/{key}/values",
}


def test_every_operation_documents_the_answers_it_can_give(contract: Contract) -> None:
    for path, method, op in operations(contract.document):
        expected = {404, 405, 431, 500}
        if op["security"]:
            expected |= {400, 401, 403, 422, 503}
        if "requestBody" in op:
            expected |= {413, 415}
        if path in RATE_LIMITED:
            expected |= {429}
        if path == WRITE:
            expected |= {200, 207}
        documented = {int(s) for s in op["responses"]}
        missing = expected - documented
        assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
        for status in documented:
            spec, _ = contract.response(path, method, status)
            assert spec["headers"]["X-Request-Id"]["required"] is True, (path, method, status)
    too_many = contract.resolve({"$ref": "#/components/responses/TooManyRequests"})[0]
    for name in ("Retry-After", *RATE_LIMIT_HEADERS):
        assert too_many["headers"][name]["required"] is True, name
        assert too_many["headers"][name]["schema"]["type"] == "integer", name
    for path in (WRITE, QUERY):
        ok, _ = contract.response(path, "post", 200)
        assert set(RATE_LIMIT_HEADERS) <= set(ok["headers"]), path
    scheme = contract.document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for scope in ("read", "write", "admin"):
        assert f"`{scope}`" in scheme["description"]


@pytest.mark.parametrize("text", ["15m", "2h30m", "500ms", "1w", "0s", "999999999d"])
def test_the_duration_pattern_admits_what_the_server_parses(text: str) -> None:
    assert re.fullmatch(DURATION_PATTERN.strip("^$"), text)
    if text != "0s":  # the pattern cannot say "positive"
        parse_duration(text)


@pytest.mark.parametrize("text", ["", "1.5h", "15x", "h", "1h 30m", "-1h", "1000000000s"])
def test_the_duration_pattern_refuses_what_the_server_refuses(text: str) -> None:
    assert not re.fullmatch(DURATION_PATTERN.strip("^$"), text)
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_the_request_examples_are_valid_and_answered(
    server: LuminateProcess, contract: Contract
) -> None:
    schemas = contract.document["components"]["schemas"]
    for name in ("WriteRequest", "QueryRequest", "RetentionRequest"):
        assert schemas[name]["examples"], name
        for example in schemas[name]["examples"]:
            contract.validate(f"/components/schemas/{name}", example)
    tenant = new_tenant()
    for path, name in ((QUERY, "QueryRequest"), (RETENTION, "RetentionRequest")):
        for example in schemas[name]["examples"]:
            resp = request(server, "POST", path, tenant, content=dumps(example))
            assert resp.status_code == 200, resp.text
            contract.check(resp, path)


# -- real responses -----------------------------------------------------------------------------


def request(
    proc: LuminateProcess,
    method: str,
    path: str,
    tenant: str | None = None,
    scopes: str = "read,write,admin",
    **kwargs: Any,
) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if tenant is not None:
        headers = {**proc.headers(tenant, scopes), **headers}
    return httpx.request(method, proc.url + path, headers=headers, timeout=TIMEOUT_S, **kwargs)


@pytest.fixture(scope="module")
def loaded(server: LuminateProcess) -> str:
    """A tenant with two series of a counter (one reset) and a gauge."""
    tenant = new_tenant()
    t = now_ms() - 10 * 60_000
    points = [
        point(name="requests", timestamp=t + i * 30_000, value=v, dimensions={"host": h})
        for h in ("a", "b")
        for i, v in enumerate([1.0, 5.0, 9.0, 2.0, 6.0])
    ]
    points += [point(name="latency", timestamp=t + i * 1000, value=float(i)) for i in range(10)]
    resp = request(server, "POST", WRITE, tenant, content=metrics_body(*map(dumps, points)))
    assert resp.status_code == 200, resp.text
    return tenant


def test_write_answers_match_the_document(server: LuminateProcess, contract: Contract) -> None:
    tenant = new_tenant()
    good = dumps(point())
    bad = dumps(point(name="1bad"))
    body = contract.check(request(server, "POST", WRITE, tenant, content=metrics_body(good)), WRITE)
    assert body == {"accepted": 1, "rejected": 0, "errors": []}
    resp = request(server, "POST", WRITE, tenant, content=metrics_body(good, bad))
    assert resp.status_code == 207
    assert contract.check(resp, WRITE)["errors"][0]["error"]["code"] == "invalid_metric_name"
    resp = request(server, "POST", WRITE, tenant, content=metrics_body(bad, bad))
    assert resp.status_code == 400
    assert contract.check(resp, WRITE)["error"]["code"] == "all_points_rejected"
    resp = request(server, "POST", WRITE, tenant, content=b'{"metrics": [')
    assert resp.status_code == 400
    assert contract.check(resp, WRITE) == {"error": resp.json()["error"]}


QUERIES: dict[str, dict[str, Any]] = {
    "range": {"queryType": "range", "metricName": "latency"},
    "range-with-filter": {
        "queryType": "range",
        "metricName": "requests",
        "filters": {"host": "a"},
        "limit": 3,
    },
    "aggregate": {"queryType": "aggregate", "metricName": "latency", "aggregation": "p95"},
    "aggregate-grouped": {
        "queryType": "aggregate",
        "metricName": "requests",
        "aggregation": "sum",
        "groupBy": ["host", "zone"],
    },
    "aggregate-buckets": {
        "queryType": "aggregate",
        "metricName": "requests",
        "aggregation": "integral",
        "interval": "1m",
    },
    "rate": {"queryType": "rate", "metricName": "requests", "interval": "1m"},
    "rate-grouped": {
        "queryType": "rate",
        "metricName": "requests",
        "interval": "2m",
        "groupBy": ["host"],
    },
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_query_answers_match_the_document(
    server: LuminateProcess, contract: Contract, loaded: str, name: str
) -> None:
    query = {**QUERIES[name], "timeRange": {"relative": "1h"}}
    resp = request(server, "POST", QUERY, loaded, content=dumps(query))
    assert resp.status_code == 200, resp.text
    body = contract.check(resp, QUERY)
    assert body["results"], "an empty result would prove nothing about the row schema"


DISCOVERY = [
    ("/api/v1/metrics", "/api/v1/metrics", {}),
    ("/api/v1/metrics/{name}/dimensions", "/api/v1/metrics/requests/dimensions", {}),
    (
        "/api/v1/metrics/{name}/dimensions/{key}/values",
        "/api/v1/metrics/requests/dimensions/host/values",
        {"limit": 1},
    ),
    ("/api/v1/cardinality", "/api/v1/cardinality", {"start": 0}),
]


@pytest.mark.parametrize(("template", "path", "params"), DISCOVERY, ids=[d[0] for d in DISCOVERY])
def test_discovery_answers_match_the_document(
    server: LuminateProcess,
    contract: Contract,
    loaded: str,
    template: str,
    path: str,
    params: dict[str, Any],
) -> None:
    resp = request(server, "GET", path, loaded, "read", params=params)
    assert resp.status_code == 200, resp.text
    body = contract.check(resp, template)
    assert any(isinstance(v, list) and v for v in body.values()), body


def test_admin_answers_match_the_document(server: LuminateProcess, contract: Contract) -> None:
    tenant = new_tenant()
    for retention in ({"days": 30}, {"days": 7, "metricName": "probe"}):
        resp = request(server, "POST", RETENTION, tenant, "admin", content=dumps(retention))
        assert resp.status_code == 200, resp.text
        contract.check(resp, RETENTION)
    resp = request(server, "GET", RETENTION, tenant, "admin")
    assert len(contract.check(resp, RETENTION)["policies"]) == 2
    resp = request(
        server, "DELETE", "/api/v1/admin/metrics/probe", tenant, "admin", params={"before": 1}
    )
    assert resp.status_code == 200, resp.text
    contract.check(resp, "/api/v1/admin/metrics/{name}")
    other = request(server, "GET", RETENTION, tenant, "admin", params={"tenant": new_tenant()})
    assert contract.check(other, RETENTION)["policies"] == []


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/startupz", "/api/v1/health", "/metrics", "/openapi.json"]
)
def test_unauthenticated_answers_match_the_document(
    server: LuminateProcess, contract: Contract, path: str
) -> None:
    resp = request(server, "GET", path)
    assert resp.status_code == 200, resp.text
    contract.check(resp, path)


def expired_token() -> dict[str, str]:
    token = create_token(TEST_SECRET, tenant="t", scopes=["read"], ttl_s=-3600)
    return {"Authorization": f"Bearer {token}"}


ERRORS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (id, method, path template, request arguments, status, code)
    ("no-token", "GET", "/api/v1/metrics", {}, 401, "missing_token"),
    (
        "garbage-token",
        "POST",
        QUERY,
        {"headers": {"Authorization": "Bearer not.a.jwt"}},
        401,
        "invalid_token",
    ),
    ("expired-token", "GET", "/api/v1/cardinality", {"expired": True}, 401, "token_expired"),
    ("write-with-read-scope", "POST", WRITE, {"scopes": "read"}, 403, "insufficient_scope"),
    (
        "admin-with-write-scope",
        "GET",
        RETENTION,
        {"scopes": "read,write"},
        403,
        "insufficient_scope",
    ),
    (
        "other-tenant-without-admin",
        "GET",
        "/api/v1/metrics",
        {"scopes": "read", "params": {"tenant": "someone-else"}},
        403,
        "insufficient_scope",
    ),
    ("unknown-path", "GET", "/api/v1/nothing-here", {}, 404, "not_found"),
    (
        "slash-in-a-path-parameter",
        "GET",
        "/api/v1/metrics/{name}/dimensions",
        {"path": "/api/v1/metrics/a%2Fb/dimensions"},
        404,
        "not_found",
    ),
    ("wrong-method", "PUT", WRITE, {}, 405, "method_not_allowed"),
    (
        "query-body-too-large",
        "POST",
        QUERY,
        {"content": b"{" + b" " * (1 << 20) + b"}"},
        413,
        "body_too_large",
    ),
    (
        "unsupported-encoding",
        "POST",
        WRITE,
        {"content": b"{}", "headers": {"Content-Encoding": "br"}},
        415,
        "unsupported_content_encoding",
    ),
    (
        "headers-too-large",
        "GET",
        "/api/v1/metrics",
        {"headers": {"X-Padding": "p" * 20_000}},
        431,
        "headers_too_large",
    ),
    ("bad-limit", "GET", "/api/v1/metrics", {"params": {"limit": "0"}}, 400, "invalid_limit"),
    (
        "bad-time",
        "DELETE",
        "/api/v1/admin/metrics/{name}",
        {"path": "/api/v1/admin/metrics/probe", "params": {"before": "yesterday"}},
        400,
        "invalid_time",
    ),
]


@pytest.mark.parametrize(
    ("method", "template", "kwargs", "status", "code"),
    [pytest.param(*e[1:], id=e[0]) for e in ERRORS],
)
def test_error_answers_match_the_document(
    server: LuminateProcess,
    contract: Contract,
    method: str,
    template: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    kwargs = dict(kwargs)
    path = kwargs.pop("path", template)
    scopes = kwargs.pop("scopes", "read,write,admin")
    tenant = None if status == 401 else new_tenant()
    if kwargs.pop("expired", False):
        kwargs["headers"] = expired_token()
    resp = request(server, method, path, tenant, scopes, **kwargs)
    assert resp.status_code == status, resp.text
    # A method the path does not serve is checked against the path's documented operation.
    documented = "post" if status == 405 else method.lower()
    if template not in contract.document["paths"]:
        template = "/healthz"  # an unknown path: any operation's 404 is the shared one
        documented = "get"
    body = contract.check(resp, template, documented)
    assert body["error"]["code"] == code


def test_a_write_over_the_body_limit_matches_the_document(
    limited: LuminateProcess, contract: Contract
) -> None:
    resp = request(limited, "POST", WRITE, new_tenant(), content=padded(SMALL_BODY_LIMIT + 1))
    assert resp.status_code == 413, resp.text
    assert contract.check(resp, WRITE)["error"]["code"] == "body_too_large"


def tiny_headers(proc: LuminateProcess, tenant: str) -> dict[str, str]:
    """A token of the tier with tiny limits that the `limited` server knows."""
    token = create_token(
        TEST_SECRET,
        tenant=tenant,
        scopes=["read", "write"],
        ttl_s=3600,
        extra={"tier": TINY_TIER},
    )
    return {"Authorization": f"Bearer {token}"}


def test_rate_limited_answers_match_the_document(
    limited: LuminateProcess, contract: Contract
) -> None:
    tenant = new_tenant()
    headers = tiny_headers(limited, tenant)
    answers = []
    for _ in range(3):
        resp = request(
            limited, "POST", WRITE, headers=headers, content=metrics_body(dumps(point()))
        )
        answers.append(resp.status_code)
        contract.check(resp, WRITE)
        if resp.status_code == 429:
            assert resp.json()["error"]["code"] == "rate_limited"
            break
    assert answers[0] == 200
    assert answers[-1] == 429, answers
    query = dumps({"queryType": "range", "metricName": "probe", "timeRange": {"relative": "1h"}})
    answers = []
    for _ in range(20):
        resp = request(limited, "POST", QUERY, headers=headers, content=query)
        answers.append(resp.status_code)
        contract.check(resp, QUERY)
        if resp.status_code == 429:
            break
    assert answers[-1] == 429, answers


def test_a_query_over_its_budget_matches_the_document(
    limited: LuminateProcess, contract: Contract
) -> None:
    tenant = new_tenant()
    headers = tiny_headers(limited, tenant)
    points = [dumps(point(timestamp=now_ms() - i * 1000, value=float(i))) for i in range(5)]
    resp = request(limited, "POST", WRITE, headers=headers, content=metrics_body(*points))
    assert resp.status_code == 200, resp.text
    time.sleep(1.1)  # the tiny tier's query bucket refills
    query = {"queryType": "range", "metricName": "probe", "timeRange": {"relative": "1h"}}
    resp = request(limited, "POST", QUERY, headers=headers, content=dumps(query))
    assert resp.status_code == 422, resp.text
    assert contract.check(resp, QUERY)["error"]["code"] == "too_many_rows_scanned"


def test_a_concurrency_429_matches_the_document(
    start_server: Callable[..., LuminateProcess], contract: Contract, tmp_path: Path
) -> None:
    overrides = tmp_path / "limits.yaml"
    overrides.write_text(yaml.safe_dump({"tiers": {"one": {"concurrent_queries": 1}}}))
    proc = start_server(LUMINATE_LIMITS_OVERRIDES_FILE=str(overrides))
    token = create_token(
        TEST_SECRET, tenant="c", scopes=["read"], ttl_s=3600, extra={"tier": "one"}
    )
    query = dumps({"queryType": "range", "metricName": "probe", "timeRange": {"relative": "30d"}})

    def send(_: int) -> httpx.Response:
        return request(
            proc, "POST", QUERY, headers={"Authorization": f"Bearer {token}"}, content=query
        )

    refused = []
    for _ in range(10):
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(send, range(64)))
        refused = [r for r in answers if r.status_code == 429]
        if refused:
            break
    assert refused, "no query was refused for concurrency"
    resp = refused[0]
    assert resp.json()["error"]["code"] == "too_many_concurrent_queries"
    assert [h for h in RATE_LIMIT_HEADERS if h not in resp.headers] == []
    contract.check(resp, QUERY)
