"""What handlers reach through `request.app.state.services`, and the auth step they share."""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request

from luminate.admin.service import AdminService
from luminate.auth.tokens import TENANT, Principal, Scope, TokenVerifier
from luminate.health.service import Health
from luminate.http.codec.write import WriteDecoder
from luminate.ingest.service import WriteService
from luminate.limits.limiter import Limiter
from luminate.model.errors import BadRequest, ErrorCode, Forbidden
from luminate.observability.metrics import Metrics
from luminate.query.promql.service import PromQLService
from luminate.query.service import QueryService
from luminate.settings import Settings

audit = logging.getLogger("luminate.audit")
R = TypeVar("R")


@dataclass
class Services:
    settings: Settings
    metrics: Metrics
    verifier: TokenVerifier
    limiter: Limiter
    write_decoder: WriteDecoder
    writes: WriteService
    queries: QueryService
    admin: AdminService
    health: Health
    promql: PromQLService


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Handler = Callable[[Request], Awaitable[R]]


def announces_write(handler: Handler[R]) -> Handler[R]:
    """For a write endpoint: from the moment the request runs until it submits its points (or
    fails), group commit knows a write is on its way and lets the insert being gathered wait for
    it, up to `write_batch_max_delay_ms` (`ingest.batcher`)."""

    @functools.wraps(handler)
    async def announced(request: Request) -> R:
        with services(request).writes.arriving():
            return await handler(request)

    return announced


def bearer(authorization: str | None) -> str | None:
    """The Authorization header with HTTP Basic credentials read as `Bearer <password>`: the
    token may travel as the password (any user name), for clients that can only send Basic
    auth (promtool, some remote_write senders). Anything else is passed on unchanged."""
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return authorization
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return authorization
    _, colon, password = decoded.partition(":")
    return f"Bearer {password}" if colon and password else authorization


def authorize(request: Request, scope: Scope) -> Principal:
    principal = services(request).verifier.verify(bearer(request.headers.get("authorization")))
    principal.require(scope)
    return principal


def tenant_for(request: Request, principal: Principal, *, admin_endpoint: bool = False) -> str:
    """The token's tenant; an admin token may name another one explicitly with ?tenant= (on
    every endpoint, or only on admin endpoints, per LUMINATE_ADMIN_IMPERSONATION). Every such
    request is logged with the acting subject and tenant and counted."""
    named = request.query_params.get("tenant")
    if named is None or named == principal.tenant:
        return principal.tenant
    if Scope.ADMIN not in principal.scopes:
        raise Forbidden(
            "only an admin token may name another tenant", code=ErrorCode.INSUFFICIENT_SCOPE
        )
    policy = services(request).settings.admin_impersonation
    if policy == "off" or (policy == "admin_endpoints" and not admin_endpoint):
        raise Forbidden(
            "naming another tenant with ?tenant= is not allowed on this endpoint "
            f"(LUMINATE_ADMIN_IMPERSONATION={policy})",
            code=ErrorCode.INSUFFICIENT_SCOPE,
            details={"impersonation": policy},
        )
    if not TENANT.fullmatch(named):
        raise BadRequest(
            "tenant must be 1-128 characters of [A-Za-z0-9_.-]", code=ErrorCode.INVALID_PARAMETER
        )
    route = str(getattr(request.scope.get("route"), "path", "unmatched"))
    services(request).metrics.impersonations.labels(route=route).inc()
    audit.info(
        "impersonation",
        extra={
            "subject": principal.subject,
            "acting_tenant": principal.tenant,
            "target_tenant": named,
            "method": request.method,
            "route": route,
        },
    )
    return named
