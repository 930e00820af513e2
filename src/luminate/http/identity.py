"""Who a token speaks for: the verified tenant, scopes and expiry, for clients such as the
built-in UI that must show them without decoding the token themselves."""

from __future__ import annotations

from starlette.requests import Request

from luminate.http.codec.identity import identity
from luminate.http.context import services
from luminate.http.responses import JSON


async def whoami(request: Request) -> JSON:
    """Any valid token, whatever its scopes; nothing reaches storage and no tenant is named."""
    principal = services(request).verifier.verify(request.headers.get("authorization"))
    return JSON(identity(principal))
