"""Schemas of the OpenAPI document, generated from the msgspec structs the HTTP edge decodes
requests into and encodes answers from (`luminate.http.codec`, `luminate.http.errors`); request
schemas are tightened with the rules the decoders check in Python."""

from __future__ import annotations

from typing import Any

import msgspec

from luminate.auth.tokens import TENANT
from luminate.http.codec.admin import (
    MAX_RETENTION_DAYS,
    Deleted,
    RetentionIn,
    RetentionPolicies,
    RetentionSet,
)
from luminate.http.codec.catalog import (
    CardinalityOut,
    DimensionList,
    DimensionValueList,
    MetricList,
)
from luminate.http.codec.health import HealthOut, Liveness, ReadinessOut, Startup
from luminate.http.codec.identity import Identity
from luminate.http.codec.query import MAX_FILTERS, MAX_GROUP_BY, QueryIn, QueryResponse
from luminate.http.codec.write import WriteBody, WriteResponse
from luminate.http.errors import Error, WriteRejected
from luminate.model.errors import ErrorCode
from luminate.model.names import MAX_KEY, MAX_NAME, MAX_VALUE, NAME
from luminate.model.points import MAX_REPORTED_ERRORS, PointErrorCode
from luminate.model.query import Aggregation, QueryType
from luminate.model.time import MAX_MS, MIN_MS

Schema = dict[str, Any]

NAME_PATTERN = f"^{NAME.pattern}$"
TENANT_PATTERN = f"^{TENANT.pattern}$"
# What luminate.model.time.parse_duration reads (it also refuses a zero total).
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


# Public names for the answer structs, where the struct's name says how it is encoded.
_RESPONSE_NAMES = {
    "CardinalityOut": "Cardinality",
    "ReadinessOut": "Readiness",
    "HealthOut": "Health",
    "StorageOut": "StorageCheck",
    "WritesOut": "WritesCheck",
    "LimitsOut": "LimitsCheck",
    "AggregateRowOut": "AggregateRow",
    "RateRowOut": "RateRow",
    "MetricOut": "MetricSummary",
    "DimensionOut": "DimensionKey",
    "ValueOut": "DimensionValue",
    "PolicyOut": "RetentionPolicy",
}
_RESPONSES: list[tuple[str, object]] = [
    ("WriteResponse", WriteResponse),
    ("WriteRejected", WriteRejected),
    ("Error", Error),
    ("QueryResponse", QueryResponse),
    ("MetricList", MetricList),
    ("DimensionList", DimensionList),
    ("DimensionValueList", DimensionValueList),
    ("Cardinality", CardinalityOut),
    ("RetentionSet", RetentionSet),
    ("RetentionPolicies", RetentionPolicies),
    ("Deleted", Deleted),
    ("Liveness", Liveness),
    ("Readiness", ReadinessOut),
    ("Startup", Startup),
    ("Health", HealthOut),
    ("Identity", Identity),
]


def _rename(node: Any, names: dict[str, str]) -> Any:
    """Public names in `$ref`s and discriminator mappings; titles dropped."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "title":
                continue
            if isinstance(value, str) and value.startswith("#/components/schemas/"):
                prefix, _, name = value.rpartition("/")
                out[key] = f"{prefix}/{names.get(name, name)}"
            else:
                out[key] = _rename(value, names)
        return out
    if isinstance(node, list):
        return [_rename(v, names) for v in node]
    return node


def _any_value(t: type) -> Schema:
    """`object` (the values of error details) is any JSON value."""
    if t is object:
        return {"description": "Any JSON value."}
    raise TypeError(f"no JSON schema for {t!r}")


def response_schemas() -> dict[str, Schema]:
    """Every answer's schema, generated from the structs the handlers encode."""
    tops, generated = msgspec.json.schema_components(
        [t for _, t in _RESPONSES],
        schema_hook=_any_value,
        ref_template="#/components/schemas/{name}",
    )
    out: dict[str, Schema] = {
        _RESPONSE_NAMES.get(k, k): _rename(v, _RESPONSE_NAMES) for k, v in generated.items()
    }
    for (name, _), top in zip(_RESPONSES, tops, strict=True):
        if name not in out:  # a union (QueryResponse) has no component of its own
            out[name] = _rename(top, _RESPONSE_NAMES)
    # In declaration order (the generator sorts them), so the document reads like the code.
    out["ErrorCode"].update(enum=[c.value for c in ErrorCode], description="Stable error code.")
    out["PointErrorCode"].update(
        enum=[c.value for c in PointErrorCode], description="Why one point of a write was rejected."
    )
    out["WriteResponse"]["properties"]["errors"]["maxItems"] = MAX_REPORTED_ERRORS
    out["WriteRejected"]["properties"]["errors"]["maxItems"] = MAX_REPORTED_ERRORS
    return out
