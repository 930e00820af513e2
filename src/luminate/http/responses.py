"""JSON responses encoded with msgspec."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


class JSON(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return _encoder.encode(content)
