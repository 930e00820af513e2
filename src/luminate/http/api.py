"""Tenant-facing endpoints. Each handler: decode -> authorize -> call a service -> encode."""

from __future__ import annotations

import time

from starlette.requests import Request

from luminate.auth.tokens import Scope
from luminate.errors import BadRequest, ErrorCode
from luminate.http.body import read_body
from luminate.http.context import authorize, services, tenant_for
from luminate.http.responses import JSON
from luminate.query.model import TimeRange
from luminate.query.request import check_dimension_key, check_metric_name, time_value, window

MAX_DISCOVERY_LIMIT = 10_000


async def write(request: Request) -> JSON:
    principal = authorize(request, Scope.WRITE)
    svc = services(request)
    body = await read_body(request, svc.settings.write_max_body_bytes)
    status, result = await svc.writes.write(tenant_for(request, principal), body)
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
        )
    return JSON(result, status_code=status)


async def query(request: Request) -> JSON:
    principal = authorize(request, Scope.READ)
    svc = services(request)
    started = time.perf_counter()
    body = await read_body(request, svc.settings.write_max_body_bytes)
    out = await svc.queries.query(tenant_for(request, principal), body)
    out["executionTimeMs"] = round((time.perf_counter() - started) * 1000, 3)
    return JSON(out)


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
    principal = authorize(request, Scope.READ)
    tenant = tenant_for(request, principal)
    return JSON(
        await services(request).queries.metrics(tenant, _window(request), _limit(request, 1000))
    )


async def list_dimensions(request: Request) -> JSON:
    principal = authorize(request, Scope.READ)
    tenant = tenant_for(request, principal)
    metric = check_metric_name(request.path_params["name"])
    return JSON(
        await services(request).queries.dimension_keys(
            tenant, metric, _window(request), _limit(request, 1000)
        )
    )


async def list_dimension_values(request: Request) -> JSON:
    principal = authorize(request, Scope.READ)
    tenant = tenant_for(request, principal)
    metric = check_metric_name(request.path_params["name"])
    key = check_dimension_key(request.path_params["key"], ErrorCode.INVALID_PARAMETER)
    return JSON(
        await services(request).queries.dimension_values(
            tenant, metric, key, _window(request), _limit(request, 100)
        )
    )


async def cardinality(request: Request) -> JSON:
    principal = authorize(request, Scope.READ)
    tenant = tenant_for(request, principal)
    svc = services(request)
    out = await svc.queries.cardinality(tenant, _window(request), _limit(request, 10))
    svc.metrics.active_series.labels(tenant_id=tenant).set(out["estimatedSeries"])
    return JSON(out)


async def set_retention(request: Request) -> JSON:
    principal = authorize(request, Scope.ADMIN)
    svc = services(request)
    body = await read_body(request, 64 * 1024)
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
