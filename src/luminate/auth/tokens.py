"""Bearer tokens: verification (the only source of a request's tenant) and issuing.

The accepted algorithms are fixed by configuration, never by the token: HS tokens verify with
the shared secret only, RS/ES tokens only with the JWKS key their `kid` names, and only when
that key's type fits the algorithm (an RSA key for RS*, an EC key on the matching curve for
ES*)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from luminate.auth.jwks import KEY_TYPES, KeySource
from luminate.model.errors import ErrorCode, Forbidden, Unauthorized

TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
MIN_SECRET_BYTES = 32
# RFC 7518 3.2: an HMAC key at least as long as the hash output.
HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
SUPPORTED = frozenset(HMAC_KEY_BYTES) | frozenset(KEY_TYPES)
MAX_KID_CHARS = 256
SigningKey = str | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


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
    expires_at_s: int | None = None  # the verified `exp` claim

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise Forbidden(
                f"token lacks the {scope.value!r} scope",
                code=ErrorCode.INSUFFICIENT_SCOPE,
                details={"required": scope.value},
            )


def check_algorithms(algorithms: list[str]) -> None:
    """Raises ValueError unless every configured algorithm is supported."""
    unknown = [a for a in algorithms if a not in SUPPORTED]
    if unknown or not algorithms:
        raise ValueError(
            f"LUMINATE_JWT_ALGORITHMS: unsupported {unknown or algorithms}; "
            f"supported: {', '.join(sorted(SUPPORTED))}"
        )


def uses_secret(algorithms: list[str]) -> bool:
    return any(a in HMAC_KEY_BYTES for a in algorithms)


class TokenVerifier:
    """Verifies tokens with a fixed algorithm list (never the token's own `alg`): HS* with
    `secret`, RS*/ES* with the public keys of `keys`."""

    def __init__(
        self,
        secret: str = "",
        *,
        algorithms: list[str],
        keys: KeySource | None = None,
        issuer: str = "",
        audience: str = "",
        leeway_s: int = 30,
    ) -> None:
        check_algorithms(algorithms)
        shared = [a for a in algorithms if a in HMAC_KEY_BYTES]
        needed = max([MIN_SECRET_BYTES, *(HMAC_KEY_BYTES[a] for a in shared)])
        if shared and len(secret.encode()) < needed:
            raise ValueError(
                f"JWT_SECRET must be at least {needed} bytes for {', '.join(shared)} "
                "(set JWT_SECRET or JWT_SECRET_FILE)"
            )
        asymmetric = [a for a in algorithms if a in KEY_TYPES]
        if asymmetric and keys is None:
            raise ValueError(
                f"LUMINATE_JWT_ALGORITHMS includes {', '.join(asymmetric)}, which needs public "
                "keys: set LUMINATE_JWT_JWKS_FILE or LUMINATE_JWT_JWKS_URL"
            )
        self._secret = secret
        self._keys = keys
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
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "Authorization header must be 'Bearer <token>'", code=ErrorCode.INVALID_TOKEN
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}", code=ErrorCode.INVALID_TOKEN) from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise Unauthorized(
                f"token algorithm {_shown(alg)} is not accepted "
                f"(accepted: {', '.join(self._algorithms)})",
                code=ErrorCode.INVALID_TOKEN,
            )
        key = self._secret if alg in HMAC_KEY_BYTES else self._public_key(alg, header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={
                    "require": ["exp", "tenant_id"],
                    "verify_aud": self._audience is not None,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token has expired", code=ErrorCode.TOKEN_EXPIRED) from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}", code=ErrorCode.INVALID_TOKEN) from None
        return _principal(claims)

    def _public_key(self, alg: str, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise Unauthorized(
                f"{alg} token has no kid header naming its key", code=ErrorCode.INVALID_TOKEN
            )
        assert self._keys is not None  # the constructor refuses RS/ES without keys
        found = self._keys.get(kid) if len(kid) <= MAX_KID_CHARS else None
        if found is None:
            raise Unauthorized(
                f"token key id {_shown(kid)} is not in the JWKS", code=ErrorCode.INVALID_TOKEN
            )
        bound = found.by_algorithm.get(alg)
        if bound is None:
            raise Unauthorized(
                f"key {_shown(kid)} is an {found.kind} key and does not verify {alg}",
                code=ErrorCode.INVALID_TOKEN,
            )
        return bound


def _shown(value: object) -> str:
    """A token-supplied value for an error message, quoted and cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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

    exp = claims.get("exp")
    # PyJWT has checked that `exp` is a number in the future (within leeway).
    expires = int(exp) if isinstance(exp, int | float) else None
    return Principal(tenant, scopes, text("sub"), text("org_id"), text("tier"), expires)


def create_token(
    key: SigningKey,
    *,
    tenant: str,
    scopes: list[str],
    ttl_s: int,
    algorithm: str = "HS256",
    kid: str | None = None,
    issuer: str = "",
    audience: str = "",
    subject: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A signed token: HS* with a shared secret, RS*/ES* with a private key (then `kid` names
    its public key in the JWKS)."""
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
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def load_signing_key(pem: bytes, algorithm: str | None = None) -> tuple[SigningKey, str]:
    """A PEM private key and the algorithm it signs: `algorithm` when given (it must fit the
    key's type), else RS256 for RSA and ES256/384/512 by the EC key's curve."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
    if isinstance(key, rsa.RSAPrivateKey):
        kind: tuple[str, str | None] = ("RSA", None)
        signing: SigningKey = key
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        kind = ("EC", _CURVES.get(key.curve.name))
        signing = key
    else:
        raise ValueError("the private key must be RSA or EC")
    fitting = [a for a, k in KEY_TYPES.items() if k == kind]
    chosen = algorithm or (fitting[0] if fitting else None)
    if chosen is None or chosen not in fitting:
        raise ValueError(
            f"a {' '.join(filter(None, kind))} key signs {', '.join(fitting) or 'nothing'}, "
            f"not {chosen}"
        )
    return signing, chosen


_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
