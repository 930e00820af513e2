"""OTLP/HTTP metrics at POST /v1/metrics: protobuf (`application/x-protobuf`) or JSON
(`application/json`) bodies, gzip or zstd, through the same scope, limits, validation and
durability as /api/v1/write. A 200 means every accepted point is durable; refused points are
counted in `partial_success` (with the first refusal named). An undecodable body stores nothing
and answers 400 with a `google.rpc.Status`, in the request's content type (`http.dialects`)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from luminate.auth.tokens import Scope
from luminate.http.body import read_body
from luminate.http.codec.otlp import OtlpDecoder, response
from luminate.http.context import announces_write, authorize, services, tenant_for
from luminate.http.dialects import wants_protobuf
from luminate.ingest.idempotency import request_key
from luminate.limits.limiter import Limit
from luminate.model.errors import BadRequest, ErrorCode, UnsupportedMediaType
from luminate.model.time import now_ms

BODY_SETTING = "LUMINATE_WRITE_MAX_BODY_BYTES"
_TYPES = ("application/x-protobuf", "application/protobuf", "application/json")


@announces_write
async def export(request: Request) -> Response:
    principal = authorize(request, Scope.WRITE)
    svc = services(request)
    tenant = tenant_for(request, principal)
    tier = principal.tier if tenant == principal.tenant else None
    limits = svc.limiter.limits(tenant, tier)
    decision = svc.limiter.request(tenant, limits, Limit.WRITE_RPS)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {media[:64]!r} is not OTLP: use application/x-protobuf or "
            "application/json",
            code=ErrorCode.UNSUPPORTED_CONTENT_ENCODING,
        )
    protobuf = wants_protobuf(request)
    body = await read_body(
        request,
        svc.settings.write_max_body_bytes,
        BODY_SETTING,
        chunk_timeout_s=svc.settings.http_body_timeout_seconds,
    )
    decoder = OtlpDecoder(svc.write_decoder.validator)
    try:
        checked = await asyncio.to_thread(decoder.decode, body, protobuf, tenant, now_ms())
    except BadRequest as exc:
        svc.writes.refused_body(exc.code)
        raise
    headers = decision.headers()
    if len(checked.points) == 0 and checked.rejected_count == 0:
        content, kind = response(0, "", protobuf)
        return Response(content, 200, headers, media_type=kind)
    outcome = await svc.writes.write(tenant, checked, limits, request_key(tenant, body))
    message = ""
    if outcome.errors:
        first = outcome.errors[0]
        message = (
            f"{outcome.rejected} data points rejected; first: point {first.index} of metric "
            f"{first.metric!r}: {first.error.code.value}: {first.error.message}"
        )
    if outcome.accepted == 0:
        raise BadRequest(message, code=ErrorCode.ALL_POINTS_REJECTED)
    content, kind = response(outcome.rejected, message, protobuf)
    return Response(content, 200, headers, media_type=kind)
