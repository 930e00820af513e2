"""Who a token speaks for, as GET /api/v1/auth/whoami answers."""

from __future__ import annotations

from typing import Annotated

import msgspec

from luminate.auth.tokens import TENANT, Principal, Scope


class Identity(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Claims of a verified token; `expiresAt` is its `exp` in epoch ms."""

    tenant_id: Annotated[str, msgspec.Meta(pattern=f"^{TENANT.pattern}$")]
    scopes: list[Scope]
    subject: str | None
    org_id: str | None
    tier: str | None
    expires_at: int | None


def identity(p: Principal) -> Identity:
    expires = p.expires_at_s * 1000 if p.expires_at_s is not None else None
    return Identity(p.tenant, sorted(p.scopes), p.subject, p.org_id, p.tier, expires)
