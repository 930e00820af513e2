"""HTTP hardening as plain ASGI: security headers on every response, CORS for the browser
origins the operator allows (none by default), and a size limit on the request head."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luminate.http.errors import error_response
from luminate.model.errors import BadRequest, ErrorCode, HeadersTooLarge
from luminate.settings import ConfigError

# An API answer is data for a program: never rendered, framed, cached or read cross-origin.
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")

CORS_METHODS = ("GET", "POST", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "Content-Encoding", "X-Request-Id")
CORS_EXPOSED = (
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-Id",
)
# Headers a browser may send without asking (CORS-safelisted request headers).
_SAFELISTED = frozenset({"accept", "accept-language", "content-language"})
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:[0-9]{1,5})?")

# The HTTP server buffers at most this much more than our limit before it cuts a head off
# itself (400, connection closed): room for our own 431 answer, yet bounded per connection.
SERVER_HEAD_SLACK_BYTES = 64 * 1024
HEAD_SETTING = "LUMINATE_HTTP_MAX_HEADER_BYTES"


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, and `Cache-Control: no-store` under /api/.
    A header the response already sets is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = SECURITY_HEADERS
        if scope["path"].startswith("/api/"):
            extra = [*extra, NO_STORE]

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)


def cors_middleware(origins: list[str], max_age_s: int) -> list[Middleware]:
    """The CORS middleware for LUMINATE_CORS_ALLOWED_ORIGINS, or none when the list is empty.
    Raises ConfigError for an entry that is not an origin."""
    if not origins:
        return []
    if "*" in origins and len(origins) > 1:
        raise ConfigError("LUMINATE_CORS_ALLOWED_ORIGINS: `*` stands alone, not in a list")
    bad = [o for o in origins if o != "*" and not _ORIGIN.fullmatch(o)]
    if bad:
        raise ConfigError(
            f"LUMINATE_CORS_ALLOWED_ORIGINS: {bad} not origins (scheme://host[:port], no path)"
        )
    return [Middleware(CORS, origins=origins, max_age_s=max_age_s)]


class CORS:
    """Cross-origin access for browsers. Tokens travel in the Authorization header, so no
    credentials mode is ever granted. A preflight from an allowed origin asking for allowed
    methods and headers is answered 204; any other preflight gets the JSON error shape (the
    browser then refuses the call). Other requests pass through; from an allowed origin their
    response carries Access-Control-Allow-Origin and the exposed headers."""

    def __init__(self, app: ASGIApp, *, origins: list[str], max_age_s: int) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)
        self.allowed_headers = frozenset(h.lower() for h in CORS_HEADERS) | _SAFELISTED
        self.preflight_headers = {
            "Access-Control-Allow-Methods": ", ".join(CORS_METHODS),
            "Access-Control-Allow-Headers": ", ".join(CORS_HEADERS),
            "Access-Control-Max-Age": str(max_age_s),
            "Vary": "Origin",
        }
        self.exposed = ", ".join(CORS_EXPOSED).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        if origin is not None and scope["method"] == "OPTIONS":
            method = request_headers.get("access-control-request-method")
            if method is not None:
                asked = request_headers.get("access-control-request-headers", "")
                response = self._preflight(origin, method, asked)
                await response(scope, receive, send)
                return
        allow = None
        if origin is not None and self._allowed(origin):
            allow = b"*" if self.any_origin else origin.encode("latin-1")

        async def send_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"vary"]
                vary = [v for k, v in message.get("headers", []) if k.lower() == b"vary"]
                # The answer depends on Origin whether or not this request sent one.
                headers.append((b"vary", b", ".join([*vary, b"Origin"])))
                if allow is not None:
                    headers.append((b"access-control-allow-origin", allow))
                    headers.append((b"access-control-expose-headers", self.exposed))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_cors)

    def _allowed(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    def _preflight(self, origin: str, method: str, asked: str) -> Response:
        if not self._allowed(origin):
            return _refused(f"origin {origin!r} may not call this API", {"origin": origin})
        if method not in CORS_METHODS:
            return _refused(
                f"method {method!r} is not allowed from browsers; allowed: "
                f"{', '.join(CORS_METHODS)}",
                {"method": method},
            )
        names = [h.strip().lower() for h in asked.split(",") if h.strip()]
        refused = [h for h in names if h not in self.allowed_headers]
        if refused:
            return _refused(
                f"header(s) {', '.join(refused)} not allowed from browsers; allowed: "
                f"{', '.join(CORS_HEADERS)}",
                {"headers": refused},
            )
        headers = dict(self.preflight_headers)
        headers["Access-Control-Allow-Origin"] = "*" if self.any_origin else origin
        return Response(status_code=204, headers=headers)


def _refused(message: str, details: dict[str, object]) -> Response:
    return error_response(
        BadRequest(
            f"CORS preflight refused: {message}", code=ErrorCode.CORS_NOT_ALLOWED, details=details
        )
    )


class HeadLimit:
    """Answers 431 `headers_too_large` when the request line and headers together exceed
    `max_bytes` (LUMINATE_HTTP_MAX_HEADER_BYTES). The HTTP server itself cuts off heads larger
    than `server_head_limit(max_bytes)`, so nothing unbounded is ever buffered."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = head_size(scope)
            if size > self.max_bytes:
                error = HeadersTooLarge(
                    f"request head of {size} bytes exceeds {self.max_bytes} bytes ({HEAD_SETTING})",
                    details={
                        "limit_bytes": self.max_bytes,
                        "setting": HEAD_SETTING,
                        "size_bytes": size,
                    },
                )
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers as sent (`Name: value` lines, CRLF endings)."""
    target = len(scope.get("raw_path") or scope["path"].encode())
    query = scope.get("query_string", b"")
    if query:
        target += 1 + len(query)
    line = len(scope["method"]) + 1 + target + len(" HTTP/") + len(scope["http_version"]) + 2
    return line + sum(len(k) + len(v) + 4 for k, v in scope["headers"]) + 2


def server_head_limit(max_bytes: int) -> int:
    """The HTTP server's own cap on a buffered head: above ours, so our 431 answers first."""
    return max_bytes + SERVER_HEAD_SLACK_BYTES
