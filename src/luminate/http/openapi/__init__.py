"""The OpenAPI 3.1 document of the HTTP API, served at GET /openapi.json.

Request bodies are generated from the msgspec structs the handlers decode with, then tightened
with the rules the services check in Python (name patterns, enums, ranges), all taken from the
constants that enforce them. Response bodies are written out to match what the handlers encode.
Error codes come from `ErrorCode` and `PointErrorCode`, so a new code is documented the moment it
exists. The e2e tests hold the document to the routes and to real responses."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from luminate import __version__
from luminate.http.openapi.identity import identity_paths
from luminate.http.openapi.paths import (
    ERROR_RESPONSES,
    HEADERS,
    PARAMETERS,
    RATE_LIMIT_HEADERS,
    SECURITY_SCHEME,
    operations,
)
from luminate.http.openapi.protocols import PROMETHEUS_SCHEMAS, protocol_paths
from luminate.http.openapi.schemas import DURATION_PATTERN, request_schemas, response_schemas

__all__ = ["DURATION_PATTERN", "RATE_LIMIT_HEADERS", "build_document", "openapi"]


def build_document() -> dict[str, Any]:
    """The whole document, built fresh as plain JSON data that shares nothing with this module
    (the endpoint serves one cached encoding of it)."""
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Luminate",
            "version": __version__,
            "description": (
                "Multi-tenant, high-cardinality metrics. Times in requests are epoch ms or RFC "
                "3339 with an offset; times in responses are epoch ms. Every error has the "
                'shape {"error": {"code", "message", "details"}}. See docs/api.md.'
            ),
        },
        "tags": [
            {"name": name}
            for name in ("write", "query", "discovery", "auth", "admin", "health", "prometheus")
        ],
        "paths": {**operations(), **identity_paths(), **protocol_paths()},
        "components": {
            "schemas": {**request_schemas(), **response_schemas(), **PROMETHEUS_SCHEMAS},
            "responses": dict(ERROR_RESPONSES.values()),
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "securitySchemes": {"bearerAuth": SECURITY_SCHEME},
        },
    }
    built: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(document))
    return built


@functools.cache
def _encoded() -> bytes:
    return msgspec.json.encode(build_document())


async def openapi(request: Request) -> Response:
    return Response(_encoded(), media_type="application/json")
