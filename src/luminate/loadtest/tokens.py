"""The bearer tokens a load test sends: the one given with `--token`, or one per generated
tenant signed like `luminate token create` does (JWT_SECRET or JWT_SECRET_FILE, HS algorithms
from LUMINATE_JWT_ALGORITHMS, issuer and audience when configured)."""

from __future__ import annotations

import jwt

from luminate.auth.tokens import HMAC_KEY_BYTES, create_token
from luminate.settings import ConfigError, load_settings

TOKEN_TTL_S = 24 * 3600


def claims_of(token: str) -> dict[str, object]:
    """The token's claims, unverified (the server verifies): to name its tenant and scopes."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError(f"--token is not a JWT: {exc}") from None
    if not isinstance(claims, dict):
        raise ValueError("--token is not a JWT with a claims object")
    return claims


def given(token: str, needs: list[str]) -> dict[str, str]:
    """{tenant: token} for `--token`; ValueError when its scopes cannot do the scenarios."""
    claims = claims_of(token)
    tenant = claims.get("tenant_id")
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("--token has no tenant_id claim")
    scopes = claims.get("scopes")
    held = set(scopes) if isinstance(scopes, list) else set()
    missing = [s for s in needs if s not in held]
    if missing:
        raise ValueError(
            f"--token (tenant {tenant}) lacks the {' and '.join(missing)} scope"
            f"{'s' if len(missing) > 1 else ''} these scenarios need (it has: "
            f"{', '.join(sorted(held)) or 'none'})"
        )
    return {tenant: token}


def signed(tenants: list[str], scopes: list[str]) -> dict[str, str]:
    """One token per tenant signed with the configured secret; ConfigError when none is set."""
    settings = load_settings()
    shared = [a for a in settings.jwt_algorithms if a in HMAC_KEY_BYTES]
    if not shared:
        raise ConfigError(
            "LUMINATE_JWT_ALGORITHMS accepts no HS algorithm: pass a token with --token"
        )
    secret = settings.secret()
    if not secret:
        raise ConfigError(
            "no --token given and no JWT_SECRET or JWT_SECRET_FILE to sign tokens with"
        )
    try:
        return {
            t: create_token(
                secret,
                tenant=t,
                scopes=scopes,
                ttl_s=TOKEN_TTL_S,
                algorithm=shared[0],
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )
            for t in tenants
        }
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
