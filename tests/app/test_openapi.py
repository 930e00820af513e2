"""The OpenAPI document served at /openapi.json: valid OpenAPI 3.1, in step with the routes and
the error codes, documenting every answer an operation can give, with a duration pattern that
matches the server's parser and request examples that a served process answers."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from starlette.routing import Route

from luminate.app import ROUTES
from luminate.http.openapi import DURATION_PATTERN, build_document
from luminate.http.openapi.identity import WHOAMI
from luminate.model.errors import ErrorCode
from luminate.model.points import PointErrorCode
from luminate.model.time import parse_duration
from tests.app.conformance import (
    QUERY,
    RATE_LIMIT_HEADERS,
    RETENTION,
    WRITE,
    Contract,
    escape,
    request,
    served_document,
)
from tests.app.inprocess import InProcessApp
from tests.support.points import dumps
from tests.support.tenants import new_tenant

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


@pytest.fixture(scope="module")
def document(server: InProcessApp) -> dict[str, Any]:
    return served_document(server)


@pytest.fixture(scope="module")
def contract(document: dict[str, Any]) -> Contract:
    return Contract(document)


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
        if path == WHOAMI:
            expected |= {401}  # it checks the token and nothing else: no scope, no storage
        elif op["security"]:
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
    server: InProcessApp, contract: Contract
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
