"""Prometheus remote_write 1.0 at POST /api/v1/push (the path Mimir uses): the same scope,
limits, validation and durability as /api/v1/write, answered as the protocol's senders expect.

- 204: every sample stored (stale markers accepted, not stored) and durable;
- 400 `samples_rejected` / `all_points_rejected`: some (or all) samples broke a write rule;
  the valid ones are stored and durable (as Mimir does), the text names the first bad one, and
  senders do not retry a 4xx;
- 400/413/415 for a body that is not a snappy-compressed WriteRequest: nothing is stored;
- 429 with Retry-After over the tenant's rates, 503 when storage fails (senders retry both).
Errors are plain text (`http.dialects`)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from luminate.auth.tokens import Scope
from luminate.http.body import read_body
from luminate.http.codec.remote_write import PushDecoder, decompress
from luminate.http.context import announces_write, authorize, services, tenant_for
from luminate.ingest.idempotency import request_key
from luminate.limits.limiter import Limit
from luminate.model.errors import BadRequest, ErrorCode, UnsupportedMediaType
from luminate.model.time import now_ms

BODY_SETTING = "LUMINATE_WRITE_MAX_BODY_BYTES"


@announces_write
async def push(request: Request) -> Response:
    principal = authorize(request, Scope.WRITE)
    svc = services(request)
    tenant = tenant_for(request, principal)
    tier = principal.tier if tenant == principal.tenant else None
    limits = svc.limiter.limits(tenant, tier)
    decision = svc.limiter.request(tenant, limits, Limit.WRITE_RPS)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding != "snappy":
        raise UnsupportedMediaType(
            f"remote_write bodies are snappy-compressed (Content-Encoding: snappy), not "
            f"{encoding[:32] or 'identity'!r}",
            code=ErrorCode.UNSUPPORTED_CONTENT_ENCODING,
        )
    limit = svc.settings.write_max_body_bytes
    body = await read_body(
        request,
        limit,
        BODY_SETTING,
        chunk_timeout_s=svc.settings.http_body_timeout_seconds,
        encoded=True,
    )
    decoder = PushDecoder(svc.write_decoder.validator)
    try:
        raw = decompress(body, limit, BODY_SETTING)
        # Decoded off the event loop: a large request takes a while in protobuf and validation.
        decoded = await asyncio.to_thread(decoder.decode, raw, tenant, now_ms())
    except BadRequest as exc:
        svc.writes.refused_body(exc.code)
        raise
    checked = decoded.checked
    headers = decision.headers()
    if len(checked.points) == 0 and checked.rejected_count == 0:
        # Nothing to store: an empty request, or only stale markers.
        return Response(status_code=204, headers=headers)
    outcome = await svc.writes.write(tenant, checked, limits, request_key(tenant, raw))
    first = decoded.first_error()
    if first is not None:
        code = (
            ErrorCode.ALL_POINTS_REJECTED if outcome.accepted == 0 else ErrorCode.SAMPLES_REJECTED
        )
        raise BadRequest(
            first,
            code=code,
            details={"accepted": outcome.accepted, "rejected": outcome.rejected},
        )
    return Response(status_code=204, headers=headers)
