"""Routes of the built-in web UI: the package's static files under /ui/, and `/` sending the
browser there.

The UI is only a client of the public API: the page signs its requests with the token its user
pasted, so auth and tenancy are the API's own. Its answers carry their own Content-Security-
Policy, which the security middleware leaves in place: scripts, styles and images only from
this origin, no inline script or style, no eval, no string-to-HTML sinks (Trusted Types), and
connections only back to this origin."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luminate.http.errors import error_response
from luminate.model.errors import MethodNotAllowed

UI_PATH = "/ui/"
UI_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
UI_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", UI_CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    # Revalidated on every load (ETag), so an upgraded server never runs a stale page.
    (b"cache-control", b"no-cache"),
]
_ALLOWED = "GET, HEAD"


def static_dir() -> Path:
    """Where the package keeps the UI's files (a real directory in every install)."""
    return Path(str(resources.files("luminate.ui") / "static"))


class UIFiles:
    """The static files, gzipped for browsers that accept it, with the UI's headers."""

    def __init__(self, directory: Path) -> None:
        self.files: ASGIApp = GZipMiddleware(
            StaticFiles(directory=directory, html=True), minimum_size=512
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            refused = MethodNotAllowed(
                f"{scope['method']} is not allowed on {scope['path']}; allowed: {_ALLOWED}",
                headers={"Allow": _ALLOWED},
                details={"allowed": _ALLOWED.split(", ")},
            )
            await error_response(refused)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *UI_HEADERS]}
            await send(message)

        await self.files(scope, receive, send_with_headers)


async def to_ui(request: Request) -> RedirectResponse:
    return RedirectResponse(UI_PATH, status_code=302)


def routes() -> list[BaseRoute]:
    """`/` redirects to the UI; `/ui` to `/ui/` (the router adds the slash)."""
    return [
        Route("/", to_ui, methods=["GET"]),
        Mount(UI_PATH.rstrip("/"), app=UIFiles(static_dir()), name="ui"),
    ]
