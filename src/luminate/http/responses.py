"""JSON responses encoded with msgspec, and the one error body shape."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from luminate.errors import LuminateError

_encoder = msgspec.json.Encoder()


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def error_response(exc: LuminateError) -> JSON:
    body = {"error": {"code": exc.code.value, "message": exc.message, "details": exc.details}}
    return JSON(body, status_code=exc.status, headers=exc.headers)
