"""Tenant-facing endpoints. Each handler: decode -> authorize -> limit -> call a service ->
encode."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from luminate.auth.tokens import Principal, Scope
from luminate.errors import BadRequest, ErrorCode
from luminate.http.body import read_body
from luminate.http.context import authorize, services, tenant_for
from luminate.http.responses import JSON
from luminate.limits.config import TenantLimits
from luminate.limits.limiter import Limit
from luminate.query.model import TimeRange
from luminate.query.request import check_dimension_key, check_metric_name, time_value, window

MAX_DISCOVERY_LIMIT = 10_000


def _limits(request: Request, principal: Principal, tenant: str) -> TenantLimits:
    # A token's tier applies to its own tenant; an admin naming another tenant gets that
    # tenant's limits.
    tier = principal.tier if tenant == principal.tenant else None
    return services(request).limiter.limits(tenant, tier)


async def write(request: Request) -> JSON:
    principal = authorize(request, Scope.WRITE)
    svc = services(request)
    tenant = tenant_for(request, principal)
    limits = _limits(request, principal, tenant)
    decision = svc.limiter.request(tenant, limits, Limit.WRITE_RPS)
    body = await read_body(request, svc.settings.write_max_body_bytes)
    status, result = await svc.writes.write(tenant, body, limits)
    headers = decision.headers()
    if status == 400:
        return JSON(
            {
                "accepted": result.accepted,
                "rejected": result.rejected,
                "errors": result.errors,
                "error": {
                    "code": ErrorCode.ALL_POINTS_REJECTED.value,
                    "message": f"all {result.rejected} points were rejected; see errors",
                    "details": {},
                },
            },
            status_code=400,
            headers=headers,
        )
    return JSON(result, status_code=status, headers=headers)


async def _read(
    request: Request, run: Callable[[str, TenantLimits], Awaitable[dict[str, Any]]]
) -> JSON:
    """The read endpoints' shared gate: scope, the tenant's query rate, one concurrency slot."""
    principal = authorize(request, Scope.READ)
    svc = services(request)
    tenant = tenant_for(request, principal)
    limits = _limits(request, principal, tenant)
    decision = svc.limiter.request(tenant, limits, Limit.QUERY_RPS)
    with svc.limiter.query_slot(tenant, limits):
        out = await run(tenant, limits)
    return JSON(out, headers=decision.headers())


async def query(request: Request) -> JSON:
    svc = services(request)
    started = time.perf_counter()

    async def run(tenant: str, limits: TenantLimits) -> dict[str, Any]:
        body = await read_body(
            request, svc.settings.query_max_body_bytes, "LUMINATE_QUERY_MAX_BODY_BYTES"
        )
        out = await svc.queries.query(tenant, body, limits)
        out["executionTimeMs"] = round((time.perf_counter() - started) * 1000, 3)
        return out

    return await _read(request, run)


def _window(request: Request) -> TimeRange | None:
    start = request.query_params.get("start")
    end = request.query_params.get("end")
    if start is None and end is None:
        return None
    return window(
        start if start is not None else 0,
        end if end is not None else str(time.time_ns() // 1_000_000 + 1),
    )


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DISCOVERY_LIMIT:
        raise BadRequest(
            f"limit must be an integer between 1 and {MAX_DISCOVERY_LIMIT}",
            code=ErrorCode.INVALID_LIMIT,
        )
    return int(raw)


async def list_metrics(request: Request) -> JSON:
    svc = services(request)

    async def run(tenant: str, limits: TenantLimits) -> dict[str, Any]:
        return await svc.queries.metrics(tenant, _window(request), _limit(request, 1000))

    return await _read(request, run)


async def list_dimensions(request: Request) -> JSON:
    svc = services(request)
    metric = check_metric_name(request.path_params["name"])

    async def run(tenant: str, limits: TenantLimits) -> dict[str, Any]:
        return await svc.queries.dimension_keys(
            tenant, metric, _window(request), _limit(request, 1000)
        )

    return await _read(request, run)


async def list_dimension_values(request: Request) -> JSON:
    svc = services(request)
    metric = check_metric_name(request.path_params["name"])
    key = check_dimension_key(request.path_params["key"], ErrorCode.INVALID_PARAMETER)

    async def run(tenant: str, limits: TenantLimits) -> dict[str, Any]:
        return await svc.queries.dimension_values(
            tenant, metric, key, _window(request), _limit(request, 100)
        )

    return await _read(request, run)


async def cardinality(request: Request) -> JSON:
    svc = services(request)

    async def run(tenant: str, limits: TenantLimits) -> dict[str, Any]:
        out = await svc.queries.cardinality(tenant, _window(request), _limit(request, 10))
        tracked = svc.limiter.series.peek(tenant, time.monotonic())
        out["limits"] = {
            "maxSeries": limits.max_series,
            "maxSeriesPerMetric": limits.max_series_per_metric,
            "estimatedActiveSeries": tracked.estimate() if tracked else 0,
        }
        return out

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
    body = await read_body(
        request, svc.settings.query_max_body_bytes, "LUMINATE_QUERY_MAX_BODY_BYTES"
    )
    return JSON(await svc.admin.set_retention(tenant_for(request, principal), body))


async def get_retention(request: Request) -> JSON:
    principal = authorize(request, Scope.ADMIN)
    return JSON(await services(request).admin.retention(tenant_for(request, principal)))


async def delete_metric(request: Request) -> JSON:
    principal = authorize(request, Scope.ADMIN)
    tenant = tenant_for(request, principal)
    metric = check_metric_name(request.path_params["name"])
    before = request.query_params.get("before")
    if before is None:
        raise BadRequest(
            "?before=<time> is required (epoch ms or RFC 3339)", code=ErrorCode.MISSING_FIELD
        )
    before_ms = time_value(before, "before")
    return JSON(await services(request).admin.delete(tenant, metric, before_ms))
