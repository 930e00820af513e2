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
from luminate.admin.service import MAX_RETENTION_DAYS, RetentionIn
from luminate.auth.tokens import TENANT, Scope
from luminate.errors import ErrorCode
from luminate.http.api import MAX_DISCOVERY_LIMIT
from luminate.ingest.points import (
    MAX_KEY,
    MAX_NAME,
    MAX_REPORTED_ERRORS,
    MAX_VALUE,
    NAME,
    PointErrorCode,
    WriteBody,
)
from luminate.query.model import Aggregation, QueryType
from luminate.query.request import MAX_FILTERS, MAX_GROUP_BY, QueryIn
from luminate.timestamps import MAX_MS, MIN_MS

Schema = dict[str, Any]

NAME_PATTERN = f"^{NAME.pattern}$"
TENANT_PATTERN = f"^{TENANT.pattern}$"
# What luminate.timestamps.parse_duration reads (it also refuses a zero total).
DURATION_PATTERN = "^(?:[0-9]{1,9}(?:ms|s|m|h|d|w))+$"

# Public names for the decoding structs; the struct names describe the decoder, not the API.
_STRUCT_NAMES = {
    "WriteBody": "WriteRequest",
    "FastMetric": "Point",
    "QueryIn": "QueryRequest",
    "TimeRangeIn": "TimeRange",
    "RetentionIn": "RetentionRequest",
}

STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
COUNT: Schema = {"type": "integer", "minimum": 0}
MS: Schema = {"type": "integer", "description": "Epoch milliseconds."}
# msgspec encodes a non-finite float (an overflowing sum, say) as null.
NUMBER_OR_NULL: Schema = {"type": ["number", "null"]}
TIME: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": MIN_MS, "maximum": MAX_MS, "description": "Epoch ms."},
        {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset."},
        {"type": "string", "pattern": "^[0-9]{1,16}$", "description": "Epoch ms as digits."},
    ]
}
DURATION: Schema = {"type": "string", "pattern": DURATION_PATTERN}
METRIC_NAME: Schema = {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME}
DIMENSION_KEY: Schema = {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_KEY}
DIMENSION_VALUE: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_VALUE}


def _ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> Schema:
    return _ref("schemas", name)


def _obj(props: dict[str, Schema], *, optional: tuple[str, ...] = (), **extra: Any) -> Schema:
    """A closed object: every property required unless listed as optional."""
    return {
        "type": "object",
        "properties": props,
        "required": [k for k in props if k not in optional],
        "additionalProperties": False,
        **extra,
    }


def _array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def _rename(node: Any) -> Any:
    """Public struct names in `$ref`s; titles dropped (they name the decoding structs)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "title":
                continue
            if key == "$ref":
                prefix, _, name = value.rpartition("/")
                out[key] = f"{prefix}/{_STRUCT_NAMES.get(name, name)}"
            else:
                out[key] = _rename(value)
        return out
    if isinstance(node, list):
        return [_rename(v) for v in node]
    return node


def _nullable(schema: Schema, description: str) -> Schema:
    return {"anyOf": [schema, {"type": "null"}], "default": None, "description": description}


def _request_schemas() -> dict[str, Schema]:
    _, generated = msgspec.json.schema_components(
        [WriteBody, QueryIn, RetentionIn], ref_template="#/components/schemas/{name}"
    )
    s: dict[str, Schema] = {_STRUCT_NAMES.get(k, k): _rename(v) for k, v in generated.items()}

    s["WriteRequest"]["description"] = "A batch of points; each point is validated on its own."
    point = s["Point"]
    point["description"] = (
        "One point. A point that breaks a rule is rejected alone, with a per-point code."
    )
    p = point["properties"]
    p["name"].update(pattern=NAME_PATTERN)
    p["timestamp"] = TIME
    p["value"].update(description="A finite number.")
    p["dimensions"].update(propertyNames=DIMENSION_KEY)

    q = s["QueryRequest"]["properties"]
    q["queryType"].update(enum=[t.value for t in QueryType])
    q["metricName"].update(METRIC_NAME)
    q["aggregation"] = {
        "anyOf": [{"enum": [a.value for a in Aggregation]}, {"type": "null"}],
        "default": None,
        "description": "Aggregate queries only (required there).",
    }
    q["filters"].update(
        propertyNames=DIMENSION_KEY,
        additionalProperties=DIMENSION_VALUE,
        maxProperties=MAX_FILTERS,
        description="Equality on dimensions, ANDed.",
    )
    q["groupBy"].update(
        items=DIMENSION_KEY,
        maxItems=MAX_GROUP_BY,
        uniqueItems=True,
        description="Aggregate and rate queries only.",
    )
    q["interval"] = _nullable(
        DURATION, 'Bucket width ("1m"): required for rate, optional on aggregate.'
    )
    q["limit"]["anyOf"][0].update(minimum=1)
    q["limit"]["description"] = "Rows returned; default and maximum are server settings."
    q["timeout"] = _nullable(DURATION, 'A duration ("10s"), at most the server maximum.')
    t = s["TimeRange"]
    t["description"] = (
        'Either {"start", "end"} (half open, start before end) or {"relative": "15m"}.'
    )
    given: Schema = {"not": {"type": "null"}}
    null: Schema = {"type": "null"}
    t["oneOf"] = [
        {
            "required": ["start", "end"],
            "properties": {"start": given, "end": given, "relative": null},
        },
        {"required": ["relative"], "properties": {"relative": given, "start": null, "end": null}},
    ]
    t["properties"].update(
        start=_nullable(TIME, "Start (inclusive)."),
        end=_nullable(TIME, "End (exclusive)."),
        relative=_nullable(DURATION, "The last span up to now."),
    )

    r = s["RetentionRequest"]["properties"]
    r["days"].update(minimum=1, maximum=MAX_RETENTION_DAYS)
    r["metricName"]["anyOf"][0].update(METRIC_NAME)

    for name, examples in EXAMPLES.items():
        s[name]["examples"] = examples
    return s


_LATENCY = {"customer_id": "cust_1", "endpoint": "/checkout"}
EXAMPLES: dict[str, list[Schema]] = {
    "WriteRequest": [
        {
            "metrics": [
                {"name": "api_latency", "timestamp": 1795600800000, "value": 12.5},
                {
                    "name": "api_latency",
                    "timestamp": "2026-11-25T10:00:00Z",
                    "value": 80.1,
                    "dimensions": _LATENCY,
                },
            ]
        }
    ],
    "QueryRequest": [
        {"queryType": "range", "metricName": "api_latency", "timeRange": {"relative": "1h"}},
        {
            "queryType": "aggregate",
            "metricName": "api_latency",
            "timeRange": {"relative": "1h"},
            "filters": {"customer_id": "cust_1"},
            "aggregation": "p95",
            "groupBy": ["endpoint"],
            "interval": "5m",
            "limit": 1000,
            "timeout": "10s",
        },
        {
            "queryType": "rate",
            "metricName": "api_requests",
            "timeRange": {"start": "2026-11-25T09:00:00Z", "end": 1795600800000},
            "groupBy": ["endpoint"],
            "interval": "1m",
        },
    ],
    "RetentionRequest": [{"days": 30}, {"days": 7, "metricName": "api_latency"}],
}


def _response_schemas() -> dict[str, Schema]:
    group_key: Schema = {
        "type": "object",
        "additionalProperties": {"type": ["string", "null"]},
        "description": "The grouped keys' values; null where a point lacks the key.",
    }
    row_of = {
        QueryType.RANGE: "RangeRow",
        QueryType.AGGREGATE: "AggregateRow",
        QueryType.RATE: "RateRow",
    }
    written = {
        "accepted": COUNT,
        "rejected": COUNT,
        "errors": _array(_schema("RejectedPoint"), maxItems=MAX_REPORTED_ERRORS),
    }
    storage = _obj(
        {
            "status": {"enum": ["up", "down"]},
            "backend": STR,
            "latencyMs": {"type": "number", "minimum": 0},
            "error": STR,
        },
        optional=("latencyMs", "error"),
    )
    writes = _obj(
        {"status": {"enum": ["ok", "failing"]}, "lastError": {"type": ["string", "null"]}},
        optional=("lastError",),
    )
    return {
        "ErrorCode": {
            "type": "string",
            "enum": [c.value for c in ErrorCode],
            "description": "Stable error code.",
        },
        "PointErrorCode": {
            "type": "string",
            "enum": [c.value for c in PointErrorCode],
            "description": "Why one point of a write was rejected.",
        },
        "ErrorDetail": _obj(
            {"code": _schema("ErrorCode"), "message": STR, "details": {"type": "object"}}
        ),
        "Error": _obj(
            {"error": _schema("ErrorDetail")}, description="The one shape of every error."
        ),
        "RejectedPoint": _obj(
            {
                "index": COUNT,
                "metric": {"type": ["string", "null"]},
                "error": _obj({"code": _schema("PointErrorCode"), "message": STR}),
            }
        ),
        "WriteResponse": _obj(
            written, description="At most 1,000 errors are listed; `rejected` counts all."
        ),
        "WriteRejected": _obj(
            {**written, "error": _schema("ErrorDetail")},
            description="Every point was rejected (`error.code` is all_points_rejected).",
        ),
        "RangeRow": _obj(
            {
                "timestamp": MS,
                "value": {"type": "number"},
                "dimensions": {"type": "object", "additionalProperties": STR},
            }
        ),
        "AggregateRow": _obj(
            {"groupKey": group_key, "value": NUMBER_OR_NULL, "count": COUNT, "timestamp": MS},
            optional=("timestamp",),
        ),
        "RateRow": _obj(
            {"timestamp": MS, "rate": NUMBER_OR_NULL, "groupKey": group_key},
            optional=("groupKey",),
        ),
        "QueryResponse": {
            "oneOf": [
                _obj(
                    {
                        "queryType": {"const": t.value},
                        "results": _array(_schema(row_of[t])),
                        "executionTimeMs": {"type": "number", "minimum": 0},
                        "pointsScanned": COUNT,
                        "truncated": BOOL,
                    }
                )
                for t in QueryType
            ]
        },
        "MetricList": _obj(
            {
                "metrics": _array(
                    _obj(
                        {
                            "name": STR,
                            "points": COUNT,
                            "series": COUNT,
                            "firstTimestamp": MS,
                            "lastTimestamp": MS,
                        }
                    )
                ),
                "truncated": BOOL,
            }
        ),
        "DimensionList": _obj(
            {
                "metricName": STR,
                "dimensions": _array(_obj({"key": STR, "points": COUNT, "distinctValues": COUNT})),
                "truncated": BOOL,
            }
        ),
        "DimensionValueList": _obj(
            {
                "metricName": STR,
                "key": STR,
                "values": _array(_obj({"value": STR, "points": COUNT})),
                "truncated": BOOL,
            },
            description="Most frequent first.",
        ),
        "Cardinality": _obj(
            {
                "estimatedSeries": COUNT,
                "topMetrics": _array(_obj({"name": STR, "estimatedSeries": COUNT})),
                "topDimensionKeys": _array(_obj({"key": STR, "estimatedDistinctValues": COUNT})),
                "limits": _obj(
                    {
                        "maxSeries": COUNT,
                        "maxSeriesPerMetric": COUNT,
                        "estimatedActiveSeries": COUNT,
                    },
                    description="The tenant's series limits and its current estimate.",
                ),
            },
            optional=("limits",),
        ),
        "RetentionSet": _obj(
            {
                "tenantId": STR,
                "metricName": {"type": ["string", "null"]},
                "days": COUNT,
                "applied": BOOL,
            }
        ),
        "RetentionPolicies": _obj(
            {
                "tenantId": STR,
                "policies": _array(
                    _obj({"metricName": {"type": ["string", "null"]}, "days": COUNT})
                ),
            }
        ),
        "Deleted": _obj({"tenantId": STR, "metricName": STR, "deletedBefore": MS}),
        "Liveness": _obj({"status": {"const": "alive"}}),
        "Readiness": _obj(
            {
                "status": {"enum": ["ready", "not_ready", "draining", "starting"]},
                "storage": storage,
                "writes": writes,
            },
            optional=("storage", "writes"),
        ),
        "Startup": _obj({"status": {"enum": ["started", "starting"]}}),
        "Health": _obj(
            {
                "status": {"enum": ["ok", "degraded"]},
                "version": STR,
                "started": BOOL,
                "draining": BOOL,
                "components": _obj({"storage": storage, "writes": writes}),
            }
        ),
    }


def _int_header(description: str, minimum: int = 0) -> Schema:
    return {"description": description, "schema": {"type": "integer", "minimum": minimum}}


HEADERS: dict[str, Schema] = {
    "X-Request-Id": {
        "description": "The request's id: the client's X-Request-Id when valid, else a new one.",
        "schema": STR,
    },
    "Retry-After": _int_header("Seconds to wait before retrying."),
    "X-RateLimit-Limit": _int_header("The limit's rate, per second.", minimum=1),
    "X-RateLimit-Remaining": _int_header("Tokens left in the tenant's bucket."),
    "X-RateLimit-Reset": _int_header("Seconds until the bucket is full again."),
    "WWW-Authenticate": {"description": "Always `Bearer`.", "schema": STR},
}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def _headers(required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> Schema:
    out: Schema = {}
    for name in ("X-Request-Id", *required):
        # A reference object takes no siblings but summary/description, so spell them out.
        out[name] = {**HEADERS[name], "required": True}
    for name in optional:
        out[name] = _ref("headers", name)
    return out


def _json(description: str, schema: Schema, **headers: tuple[str, ...]) -> Schema:
    return {
        "description": description,
        "headers": _headers(**headers),
        "content": {"application/json": {"schema": schema}},
    }


def _error(description: str, required: tuple[str, ...] = ()) -> Schema:
    return _json(description, _schema("Error"), required=required)


# Status -> the shared error response that answers it.
ERROR_RESPONSES: dict[int, tuple[str, Schema]] = {
    400: ("BadRequest", _error("The request is invalid; `error.code` names the problem.")),
    401: (
        "Unauthorized",
        _error(
            "No token (missing_token), an invalid one (invalid_token) or an expired one "
            "(token_expired).",
            required=("WWW-Authenticate",),
        ),
    ),
    403: (
        "Forbidden",
        _error("The token lacks this endpoint's scope, or names another tenant without admin."),
    ),
    404: ("NotFound", _error("No such endpoint (not_found).")),
    405: ("MethodNotAllowed", _error("The path exists, not with this method.")),
    413: ("PayloadTooLarge", _error("The body is over the limit, before or after decompression.")),
    415: (
        "UnsupportedEncoding",
        _error("A Content-Encoding other than gzip, zstd or identity."),
    ),
    422: (
        "BudgetExceeded",
        _error(
            "Valid, but over one of the tenant's budgets: the statement ran past its time "
            "budget (query_timeout) or would read too many rows (too_many_rows_scanned) and "
            "was cancelled in storage; narrow it."
        ),
    ),
    429: (
        "TooManyRequests",
        _error(
            "Over a per-tenant rate or concurrency limit (rate_limited, "
            "too_many_concurrent_queries); retry after Retry-After seconds.",
            required=("Retry-After", *RATE_LIMIT_HEADERS),
        ),
    ),
    431: ("HeadersTooLarge", _error("The request line and headers are over the limit.")),
    500: ("InternalError", _error("A bug; the request id finds it in the server logs.")),
    503: (
        "Unavailable",
        _error(
            "Storage refused or failed; nothing was acknowledged. Retry.",
            required=("Retry-After",),
        ),
    ),
}

EVERYWHERE = (404, 405, 431, 500)
# Every authenticated operation reaches storage, which may fail (503) or overrun a budget (422).
AUTHENTICATED = (*EVERYWHERE, 400, 401, 403, 422, 503)
LIMITED = (*AUTHENTICATED, 429)
WITH_BODY = (413, 415)


def _param(name: str, where: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
        **extra,
    }


PARAMETERS: dict[str, Schema] = {
    "tenant": _param(
        "tenant",
        "query",
        {"type": "string", "pattern": TENANT_PATTERN},
        "Act on this tenant. Only an admin token may name a tenant other than its own.",
    ),
    "start": _param("start", "query", TIME, "Only data at or after this time."),
    "end": _param("end", "query", TIME, "Only data before this time."),
    "name": _param("name", "path", METRIC_NAME, "A metric name."),
    "key": _param("key", "path", DIMENSION_KEY, "A dimension key."),
    "before": _param(
        "before", "query", TIME, "Delete the metric's points older than this.", required=True
    ),
}


def _limit(default: int, description: str) -> Schema:
    schema = {"type": "integer", "minimum": 1, "maximum": MAX_DISCOVERY_LIMIT, "default": default}
    return _param("limit", "query", schema, description)


def _operation(
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
        out["parameters"] = [_ref("parameters", p) if isinstance(p, str) else p for p in params]
    if body is not None:
        out["requestBody"] = {
            "required": True,
            "description": "JSON; `Content-Encoding: gzip` or `zstd` accepted.",
            "content": {"application/json": {"schema": _schema(body)}},
        }
    answers = {str(status): response for status, response in responses.items()}
    for status in sorted(set(errors)):
        answers.setdefault(str(status), _ref("responses", ERROR_RESPONSES[status][0]))
    out["responses"] = answers
    return out


def _paths() -> dict[str, Schema]:
    limited = {"optional": RATE_LIMIT_HEADERS}
    window = ("start", "end")
    write_ok = "The accepted points are durable."
    return {
        "/api/v1/write": {
            "post": _operation(
                "write",
                "write",
                "Write a batch of points",
                {
                    200: _json(
                        f"Every point was accepted. {write_ok}", _schema("WriteResponse"), **limited
                    ),
                    207: _json(
                        f"Some points were rejected (listed in `errors`). {write_ok}",
                        _schema("WriteResponse"),
                        **limited,
                    ),
                    400: _json(
                        "Every point was rejected, or the body is unusable as a whole; nothing "
                        "was written.",
                        {"anyOf": [_schema("WriteRejected"), _schema("Error")]},
                        **limited,
                    ),
                },
                (*LIMITED, *WITH_BODY),
                scope=Scope.WRITE,
                body="WriteRequest",
            )
        },
        "/api/v1/query": {
            "post": _operation(
                "query",
                "query",
                "Run a range, aggregate or rate query",
                {200: _json("The query's rows.", _schema("QueryResponse"), **limited)},
                (*LIMITED, *WITH_BODY),
                scope=Scope.READ,
                body="QueryRequest",
            )
        },
        "/api/v1/metrics": {
            "get": _operation(
                "listMetrics",
                "discovery",
                "List the tenant's metrics",
                {200: _json("Metrics, most points first.", _schema("MetricList"), **limited)},
                LIMITED,
                scope=Scope.READ,
                params=(*window, _limit(1000, "How many metrics.")),
            )
        },
        "/api/v1/metrics/{name}/dimensions": {
            "get": _operation(
                "listDimensions",
                "discovery",
                "List a metric's dimension keys",
                {200: _json("Dimension keys.", _schema("DimensionList"), **limited)},
                LIMITED,
                scope=Scope.READ,
                params=("name", *window, _limit(1000, "How many keys.")),
            )
        },
        "/api/v1/metrics/{name}/dimensions/{key}/values": {
            "get": _operation(
                "listDimensionValues",
                "discovery",
                "List a dimension's values",
                {
                    200: _json(
                        "Values, most frequent first.", _schema("DimensionValueList"), **limited
                    )
                },
                LIMITED,
                scope=Scope.READ,
                params=("name", "key", *window, _limit(100, "How many values.")),
            )
        },
        "/api/v1/cardinality": {
            "get": _operation(
                "cardinality",
                "discovery",
                "Estimate the tenant's series cardinality",
                {
                    200: _json(
                        "Estimates (exact for small sets).", _schema("Cardinality"), **limited
                    )
                },
                LIMITED,
                scope=Scope.READ,
                params=(*window, _limit(10, "How many top metrics and keys.")),
            )
        },
        "/api/v1/admin/retention": {
            "post": _operation(
                "setRetention",
                "admin",
                "Set a retention policy (tenant-wide or for one metric)",
                {200: _json("The policy, applied at once.", _schema("RetentionSet"))},
                (*AUTHENTICATED, *WITH_BODY),
                scope=Scope.ADMIN,
                body="RetentionRequest",
            ),
            "get": _operation(
                "getRetention",
                "admin",
                "List the tenant's retention policies",
                {200: _json("The policies.", _schema("RetentionPolicies"))},
                AUTHENTICATED,
                scope=Scope.ADMIN,
            ),
        },
        "/api/v1/admin/metrics/{name}": {
            "delete": _operation(
                "deleteMetric",
                "admin",
                "Delete a metric's points older than a time",
                {200: _json("The deletion is applied.", _schema("Deleted"))},
                AUTHENTICATED,
                scope=Scope.ADMIN,
                params=("name", "before"),
            )
        },
        "/healthz": {
            "get": _operation(
                "liveness",
                "health",
                "Liveness: 200 while the process answers (never touches storage)",
                {200: _json("Alive.", _schema("Liveness"))},
                EVERYWHERE,
            )
        },
        "/readyz": {
            "get": _operation(
                "readiness",
                "health",
                "Readiness: storage answers in time and the process is not draining",
                {
                    200: _json("Ready.", _schema("Readiness")),
                    503: _json("Starting, draining or storage down.", _schema("Readiness")),
                },
                EVERYWHERE,
            )
        },
        "/startupz": {
            "get": _operation(
                "startup",
                "health",
                "Startup: the schema is in place",
                {
                    200: _json("Started.", _schema("Startup")),
                    503: _json("Still starting.", _schema("Startup")),
                },
                EVERYWHERE,
            )
        },
        "/api/v1/health": {
            "get": _operation(
                "health",
                "health",
                "Health of each component",
                {
                    200: _json("Every component is healthy.", _schema("Health")),
                    503: _json("Some component is degraded.", _schema("Health")),
                },
                EVERYWHERE,
            )
        },
        "/metrics": {
            "get": _operation(
                "selfMetrics",
                "health",
                "Luminate's own metrics (Prometheus text exposition)",
                {
                    200: {
                        "description": "Prometheus text format.",
                        "headers": _headers(),
                        "content": {"text/plain": {"schema": STR}},
                    }
                },
                EVERYWHERE,
            )
        },
        "/openapi.json": {
            "get": _operation(
                "openapi",
                "health",
                "This document",
                {200: _json("The OpenAPI 3.1 document.", {"type": "object"})},
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
        "tags": [{"name": name} for name in ("write", "query", "discovery", "admin", "health")],
        "paths": _paths(),
        "components": {
            "schemas": {**_request_schemas(), **_response_schemas()},
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
