"""HS256 tokens signed with the test secret, the one every served app and process trusts."""

from __future__ import annotations

from luminate.auth.tokens import create_token

TEST_SECRET = "test-secret-0123456789-abcdefghijklmnop"


def token(
    tenant: str, scopes: str = "read,write", ttl_s: int = 3600, tier: str | None = None
) -> str:
    """A token of `tenant` with comma-separated `scopes`, of the limits tier `tier` if given."""
    extra = {"tier": tier} if tier else None
    return create_token(
        TEST_SECRET, tenant=tenant, scopes=scopes.split(","), ttl_s=ttl_s, extra=extra
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth_headers(
    tenant: str, scopes: str = "read,write", tier: str | None = None
) -> dict[str, str]:
    return bearer(token(tenant, scopes, tier=tier))
