"""What handlers reach through `request.app.state.services`, and the auth step they share."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from luminate.admin.service import AdminService
from luminate.auth.tokens import TENANT, Principal, Scope, TokenVerifier
from luminate.health.service import Health
from luminate.http.codec.write import WriteDecoder
from luminate.ingest.service import WriteService
from luminate.limits.limiter import Limiter
from luminate.model.errors import BadRequest, ErrorCode, Forbidden
from luminate.observability.metrics import Metrics
from luminate.query.service import QueryService
from luminate.settings import Settings


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


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def authorize(request: Request, scope: Scope) -> Principal:
    principal = services(request).verifier.verify(request.headers.get("authorization"))
    principal.require(scope)
    return principal


def tenant_for(request: Request, principal: Principal) -> str:
    """The token's tenant; an admin token may name another one explicitly with ?tenant=."""
    named = request.query_params.get("tenant")
    if named is None or named == principal.tenant:
        return principal.tenant
    if Scope.ADMIN not in principal.scopes:
        raise Forbidden(
            "only an admin token may name another tenant", code=ErrorCode.INSUFFICIENT_SCOPE
        )
    if not TENANT.fullmatch(named):
        raise BadRequest(
            "tenant must be 1-128 characters of [A-Za-z0-9_.-]", code=ErrorCode.INVALID_PARAMETER
        )
    return named
