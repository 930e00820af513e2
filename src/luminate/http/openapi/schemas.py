"""Schemas of the OpenAPI document: request bodies generated from the msgspec structs the
handlers decode with and tightened with the rules the services check; response bodies written
to match what the handlers encode."""

from __future__ import annotations

from typing import Any

import msgspec

from luminate.admin.service import MAX_RETENTION_DAYS, RetentionIn
from luminate.auth.tokens import TENANT
from luminate.errors import ErrorCode
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


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema_ref(name: str) -> Schema:
    return ref("schemas", name)


def obj(props: dict[str, Schema], *, optional: tuple[str, ...] = (), **extra: Any) -> Schema:
    """A closed object: every property required unless listed as optional."""
    return {
        "type": "object",
        "properties": props,
        "required": [k for k in props if k not in optional],
        "additionalProperties": False,
        **extra,
    }


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def rename_structs(node: Any) -> Any:
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
                out[key] = rename_structs(value)
        return out
    if isinstance(node, list):
        return [rename_structs(v) for v in node]
    return node


def nullable(schema: Schema, description: str) -> Schema:
    return {"anyOf": [schema, {"type": "null"}], "default": None, "description": description}


def request_schemas() -> dict[str, Schema]:
    _, generated = msgspec.json.schema_components(
        [WriteBody, QueryIn, RetentionIn], ref_template="#/components/schemas/{name}"
    )
    s: dict[str, Schema] = {
        _STRUCT_NAMES.get(k, k): rename_structs(v) for k, v in generated.items()
    }

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
    q["interval"] = nullable(
        DURATION, 'Bucket width ("1m"): required for rate, optional on aggregate.'
    )
    q["limit"]["anyOf"][0].update(minimum=1)
    q["limit"]["description"] = "Rows returned; default and maximum are server settings."
    q["timeout"] = nullable(DURATION, 'A duration ("10s"), at most the server maximum.')
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
        start=nullable(TIME, "Start (inclusive)."),
        end=nullable(TIME, "End (exclusive)."),
        relative=nullable(DURATION, "The last span up to now."),
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


def response_schemas() -> dict[str, Schema]:
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
        "errors": array(schema_ref("RejectedPoint"), maxItems=MAX_REPORTED_ERRORS),
    }
    storage = obj(
        {
            "status": {"enum": ["up", "down"]},
            "backend": STR,
            "latencyMs": {"type": "number", "minimum": 0},
            "error": STR,
        },
        optional=("latencyMs", "error"),
    )
    writes = obj(
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
        "ErrorDetail": obj(
            {"code": schema_ref("ErrorCode"), "message": STR, "details": {"type": "object"}}
        ),
        "Error": obj(
            {"error": schema_ref("ErrorDetail")}, description="The one shape of every error."
        ),
        "RejectedPoint": obj(
            {
                "index": COUNT,
                "metric": {"type": ["string", "null"]},
                "error": obj({"code": schema_ref("PointErrorCode"), "message": STR}),
            }
        ),
        "WriteResponse": obj(
            written, description="At most 1,000 errors are listed; `rejected` counts all."
        ),
        "WriteRejected": obj(
            {**written, "error": schema_ref("ErrorDetail")},
            description="Every point was rejected (`error.code` is all_points_rejected).",
        ),
        "RangeRow": obj(
            {
                "timestamp": MS,
                "value": {"type": "number"},
                "dimensions": {"type": "object", "additionalProperties": STR},
            }
        ),
        "AggregateRow": obj(
            {"groupKey": group_key, "value": NUMBER_OR_NULL, "count": COUNT, "timestamp": MS},
            optional=("timestamp",),
        ),
        "RateRow": obj(
            {"timestamp": MS, "rate": NUMBER_OR_NULL, "groupKey": group_key},
            optional=("groupKey",),
        ),
        "QueryResponse": {
            "oneOf": [
                obj(
                    {
                        "queryType": {"const": t.value},
                        "results": array(schema_ref(row_of[t])),
                        "executionTimeMs": {"type": "number", "minimum": 0},
                        "pointsScanned": COUNT,
                        "truncated": BOOL,
                    }
                )
                for t in QueryType
            ]
        },
        "MetricList": obj(
            {
                "metrics": array(
                    obj(
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
        "DimensionList": obj(
            {
                "metricName": STR,
                "dimensions": array(obj({"key": STR, "points": COUNT, "distinctValues": COUNT})),
                "truncated": BOOL,
            }
        ),
        "DimensionValueList": obj(
            {
                "metricName": STR,
                "key": STR,
                "values": array(obj({"value": STR, "points": COUNT})),
                "truncated": BOOL,
            },
            description="Most frequent first.",
        ),
        "Cardinality": obj(
            {
                "estimatedSeries": COUNT,
                "topMetrics": array(obj({"name": STR, "estimatedSeries": COUNT})),
                "topDimensionKeys": array(obj({"key": STR, "estimatedDistinctValues": COUNT})),
                "limits": obj(
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
        "RetentionSet": obj(
            {
                "tenantId": STR,
                "metricName": {"type": ["string", "null"]},
                "days": COUNT,
                "applied": BOOL,
            }
        ),
        "RetentionPolicies": obj(
            {
                "tenantId": STR,
                "policies": array(obj({"metricName": {"type": ["string", "null"]}, "days": COUNT})),
            }
        ),
        "Deleted": obj({"tenantId": STR, "metricName": STR, "deletedBefore": MS}),
        "Liveness": obj({"status": {"const": "alive"}}),
        "Readiness": obj(
            {
                "status": {"enum": ["ready", "not_ready", "draining", "starting"]},
                "storage": storage,
                "writes": writes,
            },
            optional=("storage", "writes"),
        ),
        "Startup": obj({"status": {"enum": ["started", "starting"]}}),
        "Health": obj(
            {
                "status": {"enum": ["ok", "degraded"]},
                "version": STR,
                "started": BOOL,
                "draining": BOOL,
                "components": obj({"storage": storage, "writes": writes}),
            }
        ),
    }
