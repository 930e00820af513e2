"""Bearer tokens: verification (the only source of a request's tenant) and issuing."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from luminate.errors import ErrorCode, Forbidden, Unauthorized

TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
MIN_SECRET_BYTES = 32
_SYMMETRIC = {"HS256", "HS384", "HS512"}
_ALLOWED = _SYMMETRIC


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    tenant: str
    scopes: frozenset[Scope]
    subject: str | None = None
    org_id: str | None = None
    tier: str | None = None

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise Forbidden(
                f"token lacks the {scope.value!r} scope",
                code=ErrorCode.INSUFFICIENT_SCOPE,
                details={"required": scope.value},
            )


class TokenVerifier:
    """Verifies HS256-family tokens with a fixed algorithm list (never the token's own `alg`)."""

    def __init__(
        self,
        secret: str,
        *,
        algorithms: list[str],
        issuer: str = "",
        audience: str = "",
        leeway_s: int = 30,
    ) -> None:
        unknown = [a for a in algorithms if a not in _ALLOWED]
        if unknown or not algorithms:
            raise ValueError(
                f"LUMINATE_JWT_ALGORITHMS: unsupported {unknown or algorithms}; "
                f"supported: {sorted(_ALLOWED)}"
            )
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes "
                "(set JWT_SECRET or JWT_SECRET_FILE)"
            )
        self._secret = secret
        self._algorithms = list(algorithms)
        self._issuer = issuer or None
        self._audience = audience or None
        self._leeway = leeway_s

    def verify(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized(
                "missing Authorization: Bearer <token> header", code=ErrorCode.MISSING_TOKEN
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "Authorization header must be 'Bearer <token>'", code=ErrorCode.INVALID_TOKEN
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={
                    "require": ["exp", "tenant_id"],
                    "verify_aud": self._audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token has expired", code=ErrorCode.TOKEN_EXPIRED) from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}", code=ErrorCode.INVALID_TOKEN) from None
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    tenant = claims.get("tenant_id")
    if not isinstance(tenant, str) or not TENANT.fullmatch(tenant):
        raise Unauthorized(
            "token claim tenant_id must be 1-128 characters of [A-Za-z0-9_.-]",
            code=ErrorCode.INVALID_TOKEN,
        )
    raw = claims.get("scopes", [])
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    if not isinstance(raw, list):
        raise Unauthorized("token claim scopes must be a list", code=ErrorCode.INVALID_TOKEN)
    scopes = frozenset(Scope(s) for s in raw if s in Scope.__members__.values())

    def text(name: str) -> str | None:
        value = claims.get(name)
        return value if isinstance(value, str) else None

    return Principal(tenant, scopes, text("sub"), text("org_id"), text("tier"))


def create_token(
    secret: str,
    *,
    tenant: str,
    scopes: list[str],
    ttl_s: int,
    algorithm: str = "HS256",
    issuer: str = "",
    audience: str = "",
    subject: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    if not TENANT.fullmatch(tenant):
        raise ValueError("tenant must be 1-128 characters of [A-Za-z0-9_.-]")
    bad = [s for s in scopes if s not in Scope.__members__.values()]
    if bad:
        raise ValueError(f"unknown scope(s) {bad}; use read, write, admin")
    now = int(time.time())
    claims: dict[str, Any] = {"tenant_id": tenant, "scopes": scopes, "iat": now, "exp": now + ttl_s}
    if subject:
        claims["sub"] = subject
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm=algorithm)
