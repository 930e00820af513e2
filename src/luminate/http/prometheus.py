"""The Prometheus HTTP API under /prometheus/api/v1/: PromQL queries (instant and range, GET or
POST form bodies), labels, label values, series, metadata and build information, answered in
Prometheus' envelope `{"status", "data"}` (errors: `{"status", "errorType", "error"}`, spelled by
`http.dialects`). The tenant comes from the bearer token; query budgets and limits apply as on
/api/v1/query."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request

from luminate import __version__
from luminate.auth.tokens import Principal, Scope
from luminate.http.body import read_body
from luminate.http.codec import promql as codec
from luminate.http.context import authorize, services, tenant_for
from luminate.http.responses import JSON
from luminate.limits.config import TenantLimits
from luminate.limits.limiter import Limit
from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.names import NAME
from luminate.model.promql import NAME_LABEL, Evaluation, Matcher, Selector, SeriesMatch
from luminate.model.query import QueryLimits
from luminate.model.time import MAX_MS, MIN_MS, now_ms
from luminate.query.promql.functions import vector
from luminate.query.promql.values import Scalar, Value

# The Prometheus API version whose behaviour this API follows (Grafana reads it from buildinfo
# to choose the features it uses).
PROMETHEUS_VERSION = "2.42.0"
Params = dict[str, list[str]]
_DIGITS = re.compile(r"[0-9]{1,9}")


def _limits(request: Request, principal: Principal, tenant: str) -> TenantLimits:
    tier = principal.tier if tenant == principal.tenant else None
    return services(request).limiter.limits(tenant, tier)


async def _params(request: Request) -> Params:
    """Query-string parameters, plus a POST's form body (as Prometheus, both count)."""
    params: Params = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        svc = services(request)
        body = await read_body(
            request,
            svc.settings.query_max_body_bytes,
            "LUMINATE_QUERY_MAX_BODY_BYTES",
            chunk_timeout_s=svc.settings.http_body_timeout_seconds,
        )
        try:
            pairs = urllib.parse.parse_qsl(
                body.decode(), keep_blank_values=True, strict_parsing=False
            )
        except UnicodeDecodeError:
            raise BadRequest("form body is not valid UTF-8", code=ErrorCode.INVALID_BODY) from None
        for key, value in pairs:
            params.setdefault(key, []).append(value)
    return params


def _one(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


Run = Callable[[str, TenantLimits, QueryLimits, Params], Awaitable[Any]]


class Answer(msgspec.Struct, omit_defaults=True):
    """Prometheus' success envelope."""

    data: Any
    warnings: list[str] = []
    # Not a default: omit_defaults would leave it out.
    status: str = msgspec.field(default_factory=lambda: "success")


async def _read(request: Request, run: Run) -> JSON:
    """Scope, the tenant's query rate and one concurrency slot, then `run`; its result is the
    envelope's `data`."""
    principal = authorize(request, Scope.READ)
    svc = services(request)
    tenant = tenant_for(request, principal)
    limits = _limits(request, principal, tenant)
    decision = svc.limiter.request(tenant, limits, Limit.QUERY_RPS)
    with svc.limiter.query_slot(tenant, limits):
        params = await _params(request)
        out = await run(tenant, limits, svc.queries.budget(limits), params)
    body = out if isinstance(out, Answer) else Answer(out)
    return JSON(body, headers=decision.headers())


def _timeout(params: Params, budget: QueryLimits) -> float:
    raw = _one(params, "timeout")
    if raw is None:
        return budget.default_timeout_s
    seconds = codec.duration_param(raw, "timeout") / 1000
    return min(seconds, budget.max_timeout_s)


def _check_range(start_ms: int, end_ms: int, budget: QueryLimits) -> None:
    if budget.max_range_s and end_ms - start_ms > budget.max_range_s * 1000:
        raise BadRequest(
            f"time range of {(end_ms - start_ms) / 1000:g} s exceeds the query budget of "
            f"{budget.max_range_s} s (LUMINATE_QUERY_MAX_RANGE_SECONDS or the override "
            "`query_max_range_seconds`)",
            code=ErrorCode.TIME_RANGE_TOO_LONG,
            details={"budget": "query_max_range_seconds", "limit": budget.max_range_s},
        )


def _query_text(params: Params) -> str:
    text = _one(params, "query")
    if text is None:
        raise BadRequest("query is required", code=ErrorCode.MISSING_FIELD)
    return text


async def query(request: Request) -> JSON:
    svc = services(request)

    async def run(tenant: str, limits: TenantLimits, budget: QueryLimits, params: Params) -> Any:
        expr = codec.parse(_query_text(params))
        at = codec.time_param(_one(params, "time"), "time", now_ms())
        ev = Evaluation(
            expr,
            at,
            at,
            1,
            _timeout(params, budget),
            max_series=budget.max_limit,
            max_rows_scanned=budget.max_rows_scanned,
        )
        return instant_data(await svc.promql.evaluate(tenant, ev), at)

    return await _read(request, run)


async def query_range(request: Request) -> JSON:
    svc = services(request)

    async def run(tenant: str, limits: TenantLimits, budget: QueryLimits, params: Params) -> Any:
        expr = codec.parse(_query_text(params))
        start = codec.time_param(_one(params, "start"), "start", -1)
        end = codec.time_param(_one(params, "end"), "end", -1)
        if start < 0 or end < 0:
            raise BadRequest("start and end are required", code=ErrorCode.MISSING_FIELD)
        step = codec.duration_param(_one(params, "step"), "step")
        codec.check_resolution(start, end, step)
        _check_range(start, end, budget)
        ev = Evaluation(
            expr,
            start,
            end,
            step,
            _timeout(params, budget),
            max_series=budget.max_limit,
            max_rows_scanned=budget.max_rows_scanned,
        )
        return range_data(await svc.promql.evaluate(tenant, ev), start, step)

    return await _read(request, run)


def instant_data(value: Value, at_ms: int) -> dict[str, Any]:
    t = codec.seconds(at_ms)
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [t, codec.number_text(float(value.values[0]))]}
    order = sorted(range(len(value)), key=lambda i: value.labels[i])
    result = [
        {
            "metric": codec.metric(value.labels[i]),
            "value": [t, codec.number_text(float(value.values[i, 0]))],
        }
        for i in order
        if value.present[i, 0]
    ]
    return {"resultType": "vector", "result": result}


def range_data(value: Value, start_ms: int, step_ms: int) -> dict[str, Any]:
    if isinstance(value, Scalar):
        value = vector(value)
    result = []
    for i in sorted(range(len(value)), key=lambda i: value.labels[i]):
        points = [
            [codec.seconds(start_ms + j * step_ms), codec.number_text(float(value.values[i, j]))]
            for j in range(value.values.shape[1])
            if value.present[i, j]
        ]
        if points:
            result.append({"metric": codec.metric(value.labels[i]), "values": points})
    return {"resultType": "matrix", "result": result}


# -- discovery ----------------------------------------------------------------------------------


def _selectors(params: Params, required: bool) -> tuple[tuple[Matcher, ...], ...]:
    texts = params.get("match[]", [])
    if required and not texts:
        raise BadRequest("no match[] parameter provided", code=ErrorCode.MISSING_FIELD)
    out = []
    for text in texts:
        expr = codec.parse(text)
        if not isinstance(expr, Selector) or expr.range_ms is not None:
            raise codec.bad(f"match[] {text[:64]!r} must be a series selector")
        out.append(expr.matchers)
    return tuple(out)


def _match(params: Params, budget: QueryLimits, required: bool = False) -> SeriesMatch:
    start = codec.time_param(_one(params, "start"), "start", MIN_MS)
    end = codec.time_param(_one(params, "end"), "end", MAX_MS)
    if end < start:
        raise BadRequest(
            "end timestamp must not be before start time", code=ErrorCode.INVALID_TIME_RANGE
        )
    limit = budget.max_limit
    raw = _one(params, "limit")
    if raw is not None and raw != "0":
        if not _DIGITS.fullmatch(raw) or int(raw) < 1:
            raise BadRequest("limit must be a positive integer", code=ErrorCode.INVALID_LIMIT)
        limit = min(int(raw), limit)
    return SeriesMatch(_selectors(params, required), start, end, limit)


async def _discovery(
    request: Request,
    fetch: Callable[[str, SeriesMatch], Awaitable[list[Any]]],
    required: bool = False,
) -> JSON:
    async def run(tenant: str, limits: TenantLimits, budget: QueryLimits, params: Params) -> Any:
        match = _match(params, budget, required)
        items = await fetch(tenant, match)
        if len(items) > match.limit:
            return Answer(
                items[: match.limit], warnings=[f"results truncated due to limit ({match.limit})"]
            )
        return Answer(items)

    return await _read(request, run)


async def labels(request: Request) -> JSON:
    svc = services(request)

    async def fetch(tenant: str, match: SeriesMatch) -> list[str]:
        keys = await svc.promql.label_names(tenant, match)
        if not keys and not await svc.promql.series(tenant, _one_series(match)):
            return []
        return [NAME_LABEL, *keys]

    return await _discovery(request, fetch)


def _one_series(match: SeriesMatch) -> SeriesMatch:
    return SeriesMatch(match.selectors, match.start_ms, match.end_ms, 1)


async def label_values(request: Request) -> JSON:
    svc = services(request)
    name = request.path_params["name"]
    if not NAME.fullmatch(name):
        raise BadRequest(f"invalid label name: {name[:64]!r}", code=ErrorCode.INVALID_PARAMETER)

    async def fetch(tenant: str, match: SeriesMatch) -> list[str]:
        return await svc.promql.label_values(tenant, name, match)

    return await _discovery(request, fetch)


async def series(request: Request) -> JSON:
    svc = services(request)

    async def fetch(tenant: str, match: SeriesMatch) -> list[dict[str, str]]:
        return [dict(ls) for ls in await svc.promql.series(tenant, match)]

    return await _discovery(request, fetch, required=True)


async def metadata(request: Request) -> JSON:
    """Luminate keeps no metric metadata (type, help, unit): an empty map, as Prometheus
    answers for metrics without any."""

    async def run(tenant: str, limits: TenantLimits, budget: QueryLimits, params: Params) -> Any:
        return {}

    return await _read(request, run)


async def buildinfo(request: Request) -> JSON:
    authorize(request, Scope.READ)
    return JSON(
        {
            "status": "success",
            "data": {
                "version": PROMETHEUS_VERSION,
                "revision": f"luminate-{__version__}",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": "",
            },
        }
    )
