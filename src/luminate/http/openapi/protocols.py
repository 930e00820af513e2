"""The document's part for the routes that speak other protocols: Prometheus remote_write
(`/api/v1/push`), OTLP/HTTP metrics (`/v1/metrics`) and the Prometheus HTTP API
(`/prometheus/api/v1/...`, tag `prometheus`). Their bodies and errors are the protocols' own
(`http.dialects`); only answers the transport gives before a route is chosen (408, 431, 503 for
too many connections) keep Luminate's error shape."""

from __future__ import annotations

from typing import Any

from luminate.auth.tokens import Scope
from luminate.http.openapi.paths import headers_of
from luminate.http.openapi.schemas import STR, Schema, schema_ref

ERROR_STATUSES = (400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 431, 500, 503)
PROMETHEUS = "/prometheus/api/v1"
ERROR_TYPES = ["bad_data", "execution", "timeout", "internal", "unavailable", "not_found"]

PROMETHEUS_SCHEMAS: dict[str, Schema] = {
    "PrometheusSuccess": {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"const": "success"},
            "data": {},
            "warnings": {"type": "array", "items": STR},
        },
        "description": "Prometheus' success envelope; `data` is the endpoint's answer.",
    },
    "PrometheusError": {
        "type": "object",
        "required": ["status", "errorType", "error"],
        "properties": {
            "status": {"const": "error"},
            "errorType": {"enum": ERROR_TYPES},
            "error": {
                "type": "string",
                "description": "Luminate's stable code, a colon, and the message.",
            },
        },
    },
    "OtlpStatus": {
        "type": "object",
        "description": "google.rpc.Status in OTLP/JSON (`details` omitted).",
        "properties": {"code": {"type": "integer"}, "message": STR},
    },
}


def _answer(description: str, content: dict[str, Schema] | None) -> Schema:
    """A response; `content` maps media types to schemas."""
    out: Schema = {"description": description, "headers": headers_of(optional=("Retry-After",))}
    if content is not None:
        out["content"] = {media: {"schema": schema} for media, schema in content.items()}
    return out


def _errors(content: dict[str, Schema]) -> dict[str, Schema]:
    return {
        str(status): _answer("An error in the protocol's own format.", content)
        for status in ERROR_STATUSES
    }


def _op(
    op_id: str, tag: str, summary: str, scope: Scope, responses: dict[str, Schema], **extra: Any
) -> Schema:
    return {
        "operationId": op_id,
        "tags": [tag],
        "summary": summary,
        "security": [{"bearerAuth": [scope.value]}],
        "responses": responses,
        **extra,
    }


def _prometheus_ops() -> dict[str, Schema]:
    envelope_error = {
        "application/json": {"anyOf": [schema_ref("PrometheusError"), schema_ref("Error")]}
    }
    ok = {"200": _answer("Success.", {"application/json": schema_ref("PrometheusSuccess")})}
    responses = {**_errors(envelope_error), **ok}

    def q(name: str, description: str, required: bool = False) -> Schema:
        return {
            "name": name,
            "in": "query",
            "required": required,
            "schema": STR,
            "description": description,
        }

    window = [q("start", "Unix seconds or RFC 3339."), q("end", "Unix seconds or RFC 3339.")]
    match = {
        "name": "match[]",
        "in": "query",
        "schema": {"type": "array", "items": STR},
        "description": "Series selectors; a series matching any of them counts.",
    }
    limit = q("limit", "At most this many answers (0: the tenant's maximum).")
    instant = [q("query", "PromQL.", True), q("time", "Evaluation time."), q("timeout", "Budget.")]
    ranged = [
        q("query", "PromQL.", True),
        q("start", "Unix seconds or RFC 3339.", True),
        q("end", "Unix seconds or RFC 3339.", True),
        q("step", "Seconds or a duration (at most 11,000 points per series).", True),
        q("timeout", "Budget."),
    ]
    form = {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": STR}
            }
        },
        "description": "The same parameters as a form body (as Grafana POSTs them).",
    }

    def get_post(op_id: str, summary: str, params: list[Schema]) -> Schema:
        return {
            "get": _op(op_id, "prometheus", summary, Scope.READ, responses, parameters=params),
            "post": _op(
                op_id + "Post",
                "prometheus",
                summary,
                Scope.READ,
                responses,
                parameters=params,
                requestBody=form,
            ),
        }

    name = {"name": "name", "in": "path", "required": True, "schema": STR}
    read = Scope.READ
    return {
        f"{PROMETHEUS}/query": get_post("promQuery", "Evaluate PromQL at one time", instant),
        f"{PROMETHEUS}/query_range": get_post(
            "promQueryRange", "Evaluate PromQL at every step of a range", ranged
        ),
        f"{PROMETHEUS}/labels": get_post("promLabels", "Label names", [*window, match, limit]),
        f"{PROMETHEUS}/series": get_post(
            "promSeries", "Series by selector", [*window, match, limit]
        ),
        f"{PROMETHEUS}/label/{{name}}/values": {
            "get": _op(
                "promLabelValues",
                "prometheus",
                "Values of one label",
                read,
                responses,
                parameters=[name, *window, match, limit],
            )
        },
        f"{PROMETHEUS}/metadata": {
            "get": _op(
                "promMetadata", "prometheus", "Metric metadata (none is kept)", read, responses
            )
        },
        f"{PROMETHEUS}/status/buildinfo": {
            "get": _op(
                "promBuildInfo",
                "prometheus",
                "The Prometheus API version followed",
                read,
                responses,
            )
        },
    }


def protocol_paths() -> dict[str, Schema]:
    text_or_json: dict[str, Schema] = {
        "text/plain": STR,
        "application/json": schema_ref("Error"),
    }
    push = _op(
        "remoteWrite",
        "write",
        "Prometheus remote_write 1.0 (snappy-compressed WriteRequest protobuf)",
        Scope.WRITE,
        {**_errors(text_or_json), "204": _answer("Every sample is durable.", None)},
        requestBody={
            "required": True,
            "description": "`Content-Encoding: snappy` (block format).",
            "content": {
                "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    )
    otlp_error: dict[str, Schema] = {
        "application/x-protobuf": {"type": "string", "format": "binary"},
        "application/json": {"anyOf": [schema_ref("OtlpStatus"), schema_ref("Error")]},
    }
    otlp = _op(
        "otlpMetrics",
        "write",
        "OTLP/HTTP metrics (ExportMetricsServiceRequest, protobuf or JSON)",
        Scope.WRITE,
        {
            **_errors(otlp_error),
            "200": _answer(
                "Accepted points are durable; `partial_success` counts refused ones.",
                {
                    "application/x-protobuf": {"type": "string", "format": "binary"},
                    "application/json": {"type": "object"},
                },
            ),
        },
        requestBody={
            "required": True,
            "description": "`Content-Encoding: gzip` or `zstd` accepted.",
            "content": {
                "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}},
            },
        },
    )
    return {"/api/v1/push": {"post": push}, "/v1/metrics": {"post": otlp}, **_prometheus_ops()}
