"""How errors are spelled on the routes that speak another protocol: the Prometheus HTTP API's
envelope, remote_write's plain text, OTLP's `google.rpc.Status`. Status codes and headers are the
error's own (`model.errors.STATUS`); only the body changes. `http.errors` asks here first, so
errors still become responses in one place."""

from __future__ import annotations

import msgspec
from google.protobuf import json_format
from google.rpc import status_pb2
from starlette.requests import Request
from starlette.responses import Response

from luminate.model.errors import ErrorCode, LuminateError

PROMETHEUS_PREFIX = "/prometheus/"
PUSH_PATH = "/api/v1/push"
OTLP_PATH = "/v1/metrics"
PROTOBUF = "application/x-protobuf"

_encoder = msgspec.json.Encoder()

# The Prometheus API's errorType for each status (its own vocabulary: bad_data, execution,
# timeout, internal, unavailable, not_found).
_ERROR_TYPES = {400: "bad_data", 404: "not_found", 422: "execution", 500: "internal"}
# gRPC codes for OTLP's Status by HTTP status (the OTLP/HTTP specification's mapping).
_GRPC_CODES = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    413: 8,  # RESOURCE_EXHAUSTED
    415: 3,
    429: 8,
    500: 13,  # INTERNAL
    503: 14,  # UNAVAILABLE
}


class PrometheusError(msgspec.Struct, rename="camel"):
    """The Prometheus API's error envelope."""

    status: str
    error_type: str
    error: str


def error_type(exc: LuminateError) -> str:
    if exc.code is ErrorCode.QUERY_TIMEOUT:
        return "timeout"
    if exc.status in (429, 503):
        return "unavailable"
    return _ERROR_TYPES.get(exc.status, "bad_data")


def wants_protobuf(request: Request) -> bool:
    """OTLP answers in the request's content type: JSON only when the request was JSON."""
    return "json" not in request.headers.get("content-type", PROTOBUF).lower()


def otlp_status(exc: LuminateError, protobuf: bool) -> tuple[bytes, str]:
    status = status_pb2.Status(code=_GRPC_CODES.get(exc.status, 2), message=exc.message)
    if protobuf:
        return status.SerializeToString(), PROTOBUF
    return json_format.MessageToJson(status, indent=None).encode(), "application/json"


def answer(request: Request, exc: LuminateError) -> Response | None:
    """The error in the protocol of the route, or None for Luminate's own routes."""
    path = request.url.path
    headers = dict(exc.headers)
    if path.startswith(PROMETHEUS_PREFIX):
        body = PrometheusError("error", error_type(exc), f"{exc.code.value}: {exc.message}")
        return Response(_encoder.encode(body), exc.status, headers, media_type="application/json")
    if path == PUSH_PATH:
        return Response(f"{exc.code.value}: {exc.message}\n", exc.status, headers, "text/plain")
    if path == OTLP_PATH:
        content, media = otlp_status(exc, wants_protobuf(request))
        return Response(content, exc.status, headers, media_type=media)
    return None
