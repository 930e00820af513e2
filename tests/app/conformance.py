"""Checking real answers against the OpenAPI document: the document as the app serves it, a
contract that looks up what the document promises for a path, method and status and validates a
response against it (documented status, media type, required headers, body schema), and the
request helper the OpenAPI tests send with."""

from __future__ import annotations

import re
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.app.bodies import TIMEOUT_S
from tests.app.inprocess import InProcessApp

URI = "urn:luminate:openapi"
WRITE = "/api/v1/write"
QUERY = "/api/v1/query"
RETENTION = "/api/v1/admin/retention"
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


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


def served_document(proc: InProcessApp) -> dict[str, Any]:
    """The document `proc` serves at /openapi.json."""
    resp = proc.client.get("/openapi.json", timeout=TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    doc: dict[str, Any] = resp.json()
    return doc


def request(
    proc: InProcessApp,
    method: str,
    path: str,
    tenant: str | None = None,
    scopes: str = "read,write,admin",
    **kwargs: Any,
) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if tenant is not None:
        headers = {**proc.headers(tenant, scopes), **headers}
    return proc.client.request(method, path, headers=headers, timeout=TIMEOUT_S, **kwargs)
