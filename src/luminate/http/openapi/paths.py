"""Operations of the OpenAPI document: every route with its parameters, responses, headers and
the scope it needs."""

from __future__ import annotations

from typing import Any

from luminate.auth.tokens import Scope
from luminate.http.api import MAX_DISCOVERY_LIMIT
from luminate.http.openapi.schemas import (
    DIMENSION_KEY,
    METRIC_NAME,
    STR,
    TENANT_PATTERN,
    TIME,
    Schema,
    ref,
    schema_ref,
)


def int_header(description: str, minimum: int = 0) -> Schema:
    return {"description": description, "schema": {"type": "integer", "minimum": minimum}}


HEADERS: dict[str, Schema] = {
    "X-Request-Id": {
        "description": "The request's id: the client's X-Request-Id when valid, else a new one.",
        "schema": STR,
    },
    "Retry-After": int_header("Seconds to wait before retrying."),
    "X-RateLimit-Limit": int_header("The limit's rate, per second.", minimum=1),
    "X-RateLimit-Remaining": int_header("Tokens left in the tenant's bucket."),
    "X-RateLimit-Reset": int_header("Seconds until the bucket is full again."),
    "WWW-Authenticate": {"description": "Always `Bearer`.", "schema": STR},
}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def headers_of(required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> Schema:
    out: Schema = {}
    for name in ("X-Request-Id", *required):
        # A reference object takes no siblings but summary/description, so spell them out.
        out[name] = {**HEADERS[name], "required": True}
    for name in optional:
        out[name] = ref("headers", name)
    return out


def json_response(description: str, schema: Schema, **headers: tuple[str, ...]) -> Schema:
    return {
        "description": description,
        "headers": headers_of(**headers),
        "content": {"application/json": {"schema": schema}},
    }


def error_response_of(description: str, required: tuple[str, ...] = ()) -> Schema:
    return json_response(description, schema_ref("Error"), required=required)


# Status -> the shared error response that answers it.
ERROR_RESPONSES: dict[int, tuple[str, Schema]] = {
    400: (
        "BadRequest",
        error_response_of("The request is invalid; `error.code` names the problem."),
    ),
    401: (
        "Unauthorized",
        error_response_of(
            "No token (missing_token), an invalid one (invalid_token) or an expired one "
            "(token_expired).",
            required=("WWW-Authenticate",),
        ),
    ),
    403: (
        "Forbidden",
        error_response_of(
            "The token lacks this endpoint's scope, or names another tenant without admin."
        ),
    ),
    404: ("NotFound", error_response_of("No such endpoint (not_found).")),
    405: ("MethodNotAllowed", error_response_of("The path exists, not with this method.")),
    408: (
        "RequestTimeout",
        error_response_of(
            "The client stopped sending: no complete head within the head deadline, or no byte "
            "of the body within the body deadline (request_timeout). The connection is closed."
        ),
    ),
    413: (
        "PayloadTooLarge",
        error_response_of("The body is over the limit, before or after decompression."),
    ),
    415: (
        "UnsupportedEncoding",
        error_response_of("A Content-Encoding other than gzip, zstd or identity."),
    ),
    422: (
        "BudgetExceeded",
        error_response_of(
            "Valid, but over one of the tenant's budgets: the statement ran past its time "
            "budget (query_timeout) or would read too many rows (too_many_rows_scanned) and "
            "was cancelled in storage; narrow it."
        ),
    ),
    429: (
        "TooManyRequests",
        error_response_of(
            "Over a per-tenant rate or concurrency limit (rate_limited, "
            "too_many_concurrent_queries); retry after Retry-After seconds.",
            required=("Retry-After", *RATE_LIMIT_HEADERS),
        ),
    ),
    431: ("HeadersTooLarge", error_response_of("The request line and headers are over the limit.")),
    500: ("InternalError", error_response_of("A bug; the request id finds it in the server logs.")),
    503: (
        "Unavailable",
        error_response_of(
            "Storage refused or failed, or the process holds its maximum of open connections "
            "(too_many_connections); nothing was acknowledged. Retry.",
            required=("Retry-After",),
        ),
    ),
}

EVERYWHERE = (400, 404, 405, 408, 431, 500, 503)
# Every authenticated operation reaches storage, which may fail (503) or overrun a budget (422).
AUTHENTICATED = (*EVERYWHERE, 401, 403, 422)
LIMITED = (*AUTHENTICATED, 429)
WITH_BODY = (413, 415)


def param(name: str, where: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
        **extra,
    }


PARAMETERS: dict[str, Schema] = {
    "tenant": param(
        "tenant",
        "query",
        {"type": "string", "pattern": TENANT_PATTERN},
        "Act on this tenant. Only an admin token may name a tenant other than its own.",
    ),
    "start": param("start", "query", TIME, "Only data at or after this time."),
    "end": param("end", "query", TIME, "Only data before this time."),
    "name": param("name", "path", METRIC_NAME, "A metric name."),
    "key": param("key", "path", DIMENSION_KEY, "A dimension key."),
    "before": param(
        "before", "query", TIME, "Delete the metric's points older than this.", required=True
    ),
}


def limit_param(default: int, description: str) -> Schema:
    schema = {"type": "integer", "minimum": 1, "maximum": MAX_DISCOVERY_LIMIT, "default": default}
    return param("limit", "query", schema, description)


def operation(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[int, Schema],
    errors: tuple[int, ...],
    *,
    scope: Scope | None = None,
    params: tuple[str | Schema, ...] = (),
    body: str | None = None,
) -> Schema:
    out: Schema = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if scope is None:
        out["security"] = []
    else:
        out["security"] = [{"bearerAuth": [scope.value]}]
        params = (*params, "tenant")
    if params:
        out["parameters"] = [ref("parameters", p) if isinstance(p, str) else p for p in params]
    if body is not None:
        out["requestBody"] = {
            "required": True,
            "description": "JSON; `Content-Encoding: gzip` or `zstd` accepted.",
            "content": {"application/json": {"schema": schema_ref(body)}},
        }
    answers = {str(status): response for status, response in responses.items()}
    for status in sorted(set(errors)):
        answers.setdefault(str(status), ref("responses", ERROR_RESPONSES[status][0]))
    out["responses"] = answers
    return out


def operations() -> dict[str, Schema]:
    limited = {"optional": RATE_LIMIT_HEADERS}
    window = ("start", "end")
    write_ok = "The accepted points are durable."
    return {
        "/api/v1/write": {
            "post": operation(
                "write",
                "write",
                "Write a batch of points",
                {
                    200: json_response(
                        f"Every point was accepted. {write_ok}",
                        schema_ref("WriteResponse"),
                        **limited,
                    ),
                    207: json_response(
                        f"Some points were rejected (listed in `errors`). {write_ok}",
                        schema_ref("WriteResponse"),
                        **limited,
                    ),
                    400: json_response(
                        "Every point was rejected, or the body is unusable as a whole; nothing "
                        "was written.",
                        {"anyOf": [schema_ref("WriteRejected"), schema_ref("Error")]},
                        **limited,
                    ),
                },
                (*LIMITED, *WITH_BODY),
                scope=Scope.WRITE,
                body="WriteRequest",
            )
        },
        "/api/v1/query": {
            "post": operation(
                "query",
                "query",
                "Run a range, aggregate or rate query",
                {200: json_response("The query's rows.", schema_ref("QueryResponse"), **limited)},
                (*LIMITED, *WITH_BODY),
                scope=Scope.READ,
                body="QueryRequest",
            )
        },
        "/api/v1/metrics": {
            "get": operation(
                "listMetrics",
                "discovery",
                "List the tenant's metrics",
                {
                    200: json_response(
                        "Metrics, most points first.", schema_ref("MetricList"), **limited
                    )
                },
                LIMITED,
                scope=Scope.READ,
                params=(*window, limit_param(1000, "How many metrics.")),
            )
        },
        "/api/v1/metrics/{name}/dimensions": {
            "get": operation(
                "listDimensions",
                "discovery",
                "List a metric's dimension keys",
                {200: json_response("Dimension keys.", schema_ref("DimensionList"), **limited)},
                LIMITED,
                scope=Scope.READ,
                params=("name", *window, limit_param(1000, "How many keys.")),
            )
        },
        "/api/v1/metrics/{name}/dimensions/{key}/values": {
            "get": operation(
                "listDimensionValues",
                "discovery",
                "List a dimension's values",
                {
                    200: json_response(
                        "Values, most frequent first.", schema_ref("DimensionValueList"), **limited
                    )
                },
                LIMITED,
                scope=Scope.READ,
                params=("name", "key", *window, limit_param(100, "How many values.")),
            )
        },
        "/api/v1/cardinality": {
            "get": operation(
                "cardinality",
                "discovery",
                "Estimate the tenant's series cardinality",
                {
                    200: json_response(
                        "Estimates (exact for small sets).", schema_ref("Cardinality"), **limited
                    )
                },
                LIMITED,
                scope=Scope.READ,
                params=(*window, limit_param(10, "How many top metrics and keys.")),
            )
        },
        "/api/v1/admin/retention": {
            "post": operation(
                "setRetention",
                "admin",
                "Set a retention policy (tenant-wide or for one metric)",
                {200: json_response("The policy, applied at once.", schema_ref("RetentionSet"))},
                (*AUTHENTICATED, *WITH_BODY),
                scope=Scope.ADMIN,
                body="RetentionRequest",
            ),
            "get": operation(
                "getRetention",
                "admin",
                "List the tenant's retention policies",
                {200: json_response("The policies.", schema_ref("RetentionPolicies"))},
                AUTHENTICATED,
                scope=Scope.ADMIN,
            ),
        },
        "/api/v1/admin/metrics/{name}": {
            "delete": operation(
                "deleteMetric",
                "admin",
                "Delete a metric's points older than a time",
                {200: json_response("The deletion is applied.", schema_ref("Deleted"))},
                AUTHENTICATED,
                scope=Scope.ADMIN,
                params=("name", "before"),
            )
        },
        "/healthz": {
            "get": operation(
                "liveness",
                "health",
                "Liveness: 200 while the process answers (never touches storage)",
                {200: json_response("Alive.", schema_ref("Liveness"))},
                EVERYWHERE,
            )
        },
        "/readyz": {
            "get": operation(
                "readiness",
                "health",
                "Readiness: storage answers in time and the process is not draining",
                {
                    200: json_response("Ready.", schema_ref("Readiness")),
                    503: json_response(
                        "Starting, draining or storage down.", schema_ref("Readiness")
                    ),
                },
                EVERYWHERE,
            )
        },
        "/startupz": {
            "get": operation(
                "startup",
                "health",
                "Startup: the schema is in place",
                {
                    200: json_response("Started.", schema_ref("Startup")),
                    503: json_response("Still starting.", schema_ref("Startup")),
                },
                EVERYWHERE,
            )
        },
        "/api/v1/health": {
            "get": operation(
                "health",
                "health",
                "Health of each component (internal port only; the public port answers 404)",
                {
                    200: json_response("Every component is healthy.", schema_ref("Health")),
                    503: json_response("Some component is degraded.", schema_ref("Health")),
                },
                EVERYWHERE,
            )
        },
        "/metrics": {
            "get": operation(
                "selfMetrics",
                "health",
                "Luminate's own metrics, Prometheus text (internal port only; the public port "
                "answers 404)",
                {
                    200: {
                        "description": "Prometheus text format.",
                        "headers": headers_of(),
                        "content": {"text/plain": {"schema": STR}},
                    }
                },
                EVERYWHERE,
            )
        },
        "/openapi.json": {
            "get": operation(
                "openapi",
                "health",
                "This document",
                {200: json_response("The OpenAPI 3.1 document.", {"type": "object"})},
                EVERYWHERE,
            )
        },
    }


SECURITY_SCHEME: Schema = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": (
        "A JWT: HS256 with JWT_SECRET by default, or RS256/ES256 with keys from a JWKS file or "
        "URL; the accepted algorithms come from configuration, never from the token. Claims: `exp` "
        "and `tenant_id` (required), `scopes` (`read`: query and discovery; `write`: write; "
        "`admin`: retention, deletion and naming another tenant with `?tenant=`), optional "
        "`sub`, `org_id`, `tier`. The tenant comes only from the token."
    ),
}
