"""A keep-alive HTTP/1.1 connection with the least client-side work per request."""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field

from bench.server import HOST


@dataclass
class Connection:
    port: int
    token: str
    timeout_s: float = 120.0
    _conn: http.client.HTTPConnection | None = field(default=None, init=False, repr=False)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Status and body of one POST. The connection stays open between calls."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout_s)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
        }
        try:
            self._conn.request("POST", path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
