"""Tenant-facing endpoints. Each handler: decode -> authorize -> limit -> call a service ->
encode. Decoding and encoding live in `http.codec`; errors become responses in `http.errors`."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request

from luminate.auth.tokens import Principal, Scope
from luminate.http.body import read_body
from luminate.http.codec import admin as admin_codec
from luminate.http.codec import catalog
from luminate.http.codec.query import decode_query, encode_result, time_value, window
from luminate.http.codec.write import WHOLE_BODY_BYTES, WriteResponse
from luminate.http.context import announces_write, authorize, services, tenant_for
from luminate.http.errors import all_rejected
from luminate.http.responses import JSON
from luminate.ingest.idempotency import request_key
from luminate.limits.config import TenantLimits
from luminate.limits.limiter import Limit
from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.names import check_dimension_key, check_metric_name
from luminate.model.query import TimeRange
from luminate.model.time import now_ms

MAX_DISCOVERY_LIMIT = 10_000
WRITE_BODY_SETTING = "LUMINATE_WRITE_MAX_BODY_BYTES"
QUERY_BODY_SETTING = "LUMINATE_QUERY_MAX_BODY_BYTES"
_DIGITS = re.compile(r"[0-9]{1,9}")


def _limits(request: Request, principal: Principal, tenant: str) -> TenantLimits:
    # A token's tier applies to its own tenant; an admin naming another tenant gets that
    # tenant's limits.
    tier = principal.tier if tenant == principal.tenant else None
    return services(request).limiter.limits(tenant, tier)


@announces_write
async def write(request: Request) -> JSON:
    principal = authorize(request, Scope.WRITE)
    svc = services(request)
    tenant = tenant_for(request, principal)
    limits = _limits(request, principal, tenant)
    decision = svc.limiter.request(tenant, limits, Limit.WRITE_RPS)
    body = await _body(request, svc.settings.write_max_body_bytes, WRITE_BODY_SETTING)
    try:
        if len(body) <= WHOLE_BODY_BYTES:
            checked = svc.write_decoder.decode(body, tenant, now_ms())
        else:
            # Off the event loop: a large body is decoded in bounded steps on a worker thread,
            # so probes and other tenants are answered in between.
            checked = await asyncio.to_thread(svc.write_decoder.decode, body, tenant, now_ms())
    except BadRequest as exc:
        svc.writes.refused_body(exc.code)
        raise
    outcome = await svc.writes.write(tenant, checked, limits, request_key(tenant, body))
    headers = decision.headers()
    if outcome.accepted == 0:
        return all_rejected(outcome, headers)
    status = 200 if outcome.rejected == 0 else 207
    return JSON(WriteResponse.of(outcome), status_code=status, headers=headers)


async def _body(request: Request, limit: int, setting: str) -> bytes:
    timeout_s = services(request).settings.http_body_timeout_seconds
    return await read_body(request, limit, setting, chunk_timeout_s=timeout_s)


async def _read(
    request: Request,
    run: Callable[[str, TenantLimits, bytes], Awaitable[msgspec.Struct]],
    *,
    with_body: bool = False,
) -> JSON:
    """The read endpoints' shared gate: scope, the tenant's query rate, one concurrency slot
    (held while the body arrives, which LUMINATE_HTTP_BODY_TIMEOUT_SECONDS bounds)."""
    principal = authorize(request, Scope.READ)
    svc = services(request)
    tenant = tenant_for(request, principal)
    limits = _limits(request, principal, tenant)
    decision = svc.limiter.request(tenant, limits, Limit.QUERY_RPS)
    with svc.limiter.query_slot(tenant, limits):
        body = b""
        if with_body:
            body = await _body(request, svc.settings.query_max_body_bytes, QUERY_BODY_SETTING)
        out = await run(tenant, limits, body)
    return JSON(out, headers=decision.headers())


async def query(request: Request) -> JSON:
    svc = services(request)
    started = time.perf_counter()

    async def run(tenant: str, limits: TenantLimits, body: bytes) -> msgspec.Struct:
        q = decode_query(body, svc.queries.budget(limits), now_ms())
        result = await svc.queries.query(tenant, q)
        return encode_result(q, result, round((time.perf_counter() - started) * 1000, 3))

    return await _read(request, run, with_body=True)


def _window(request: Request) -> TimeRange | None:
    start = request.query_params.get("start")
    end = request.query_params.get("end")
    if start is None and end is None:
        return None
    return window(
        start if start is not None else 0,
        end if end is not None else str(now_ms() + 1),
    )


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() accepts "²", and int() refuses very long numbers.
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_DISCOVERY_LIMIT:
        raise BadRequest(
            f"limit must be an integer between 1 and {MAX_DISCOVERY_LIMIT}",
            code=ErrorCode.INVALID_LIMIT,
        )
    return int(raw)


async def list_metrics(request: Request) -> JSON:
    svc = services(request)

    async def run(tenant: str, limits: TenantLimits, body: bytes) -> msgspec.Struct:
        rows, truncated = await svc.queries.metrics(tenant, _window(request), _limit(request, 1000))
        return catalog.metric_list(rows, truncated)

    return await _read(request, run)


async def list_dimensions(request: Request) -> JSON:
    svc = services(request)
    metric = check_metric_name(request.path_params["name"])

    async def run(tenant: str, limits: TenantLimits, body: bytes) -> msgspec.Struct:
        rows, truncated = await svc.queries.dimension_keys(
            tenant, metric, _window(request), _limit(request, 1000)
        )
        return catalog.dimension_list(metric, rows, truncated)

    return await _read(request, run)


async def list_dimension_values(request: Request) -> JSON:
    svc = services(request)
    metric = check_metric_name(request.path_params["name"])
    key = check_dimension_key(request.path_params["key"], ErrorCode.INVALID_PARAMETER)

    async def run(tenant: str, limits: TenantLimits, body: bytes) -> msgspec.Struct:
        rows, truncated = await svc.queries.dimension_values(
            tenant, metric, key, _window(request), _limit(request, 100)
        )
        return catalog.value_list(metric, key, rows, truncated)

    return await _read(request, run)


async def cardinality(request: Request) -> JSON:
    svc = services(request)

    async def run(tenant: str, limits: TenantLimits, body: bytes) -> msgspec.Struct:
        c = await svc.queries.cardinality(tenant, _window(request), _limit(request, 10))
        tracked = svc.limiter.series.peek(tenant, time.time())
        series = catalog.SeriesLimits(
            limits.max_series,
            limits.max_series_per_metric,
            tracked.estimate() if tracked else 0,
        )
        return catalog.cardinality(c, series)

    return await _read(request, run)


async def retention(request: Request) -> JSON:
    """GET lists the tenant's retention policies, POST sets one (one path, one route, so a 405
    names both methods in `Allow`)."""
    if request.method == "POST":
        return await set_retention(request)
    return await get_retention(request)


async def set_retention(request: Request) -> JSON:
    principal = authorize(request, Scope.ADMIN)
    svc = services(request)
    body = await _body(request, svc.settings.query_max_body_bytes, QUERY_BODY_SETTING)
    tenant = tenant_for(request, principal, admin_endpoint=True)
    req = admin_codec.decode_retention(body)
    metric = check_metric_name(req.metric_name) if req.metric_name is not None else None
    await svc.admin.set_retention(tenant, metric, req.days)
    return JSON(admin_codec.RetentionSet(tenant, metric, req.days, applied=True))


async def get_retention(request: Request) -> JSON:
    principal = authorize(request, Scope.ADMIN)
    tenant = tenant_for(request, principal, admin_endpoint=True)
    return JSON(admin_codec.policies(tenant, await services(request).admin.retention(tenant)))


async def delete_metric(request: Request) -> JSON:
    principal = authorize(request, Scope.ADMIN)
    tenant = tenant_for(request, principal, admin_endpoint=True)
    metric = check_metric_name(request.path_params["name"])
    before = request.query_params.get("before")
    if before is None:
        raise BadRequest(
            "?before=<time> is required (epoch ms or RFC 3339)", code=ErrorCode.MISSING_FIELD
        )
    before_ms = time_value(before, "before")
    await services(request).admin.delete(tenant, metric, before_ms)
    return JSON(admin_codec.Deleted(tenant, metric, before_ms))
