"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the load generator.

A general-purpose client costs a few milliseconds of CPU per request in Python; this one costs
tens of microseconds (docs/performance.md has the measurement), so one generator process can
drive thousands of requests per second without becoming the bottleneck it is measuring. It
speaks exactly what the generator needs: POST and GET with a Content-Length body, responses
with Content-Length or chunked bodies, `Connection: close` honoured."""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024


class ProtocolError(Exception):
    """The peer answered something that is not HTTP/1.1."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Target:
    """Where requests go: host, port and path prefix of a base URL. For https, certificates
    are verified against the system's trust store (or the file named by SSL_CERT_FILE)."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self.netloc = parts.netloc


class Connection:
    """One keep-alive connection; `request` raises OSError, TimeoutError or ProtocolError when
    the exchange fails, after which the connection is closed and must not be reused."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.open = True

    @classmethod
    async def connect(cls, target: Target) -> Connection:
        reader, writer = await asyncio.open_connection(
            target.host, target.port, limit=MAX_HEAD_BYTES, ssl=target.tls
        )
        return cls(reader, writer)

    async def request(self, head: bytes, body: bytes) -> Response:
        try:
            self._writer.write(head)
            if body:
                self._writer.write(body)
            response = await _read_response(self._reader)
        except BaseException:
            self.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    def close(self) -> None:
        if self.open:
            self.open = False
            self._writer.close()


def request_head(target: Target, method: str, path: str, auth: str, length: int) -> bytes:
    lines = [
        f"{method} {target.prefix}{path} HTTP/1.1",
        f"Host: {target.netloc}",
        "User-Agent: luminate-loadtest",
        f"Authorization: {auth}",
    ]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> Response:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("connection closed before an answer") from exc
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("response head larger than 64 KiB") from exc
    lines = raw.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if (
        len(status_line) < 2
        or not status_line[0].startswith("HTTP/1.")
        or not status_line[1].isdigit()
    ):
        raise ProtocolError(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    try:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("connection closed in the middle of an answer") from exc
    except ValueError as exc:
        raise ProtocolError(f"bad response framing: {exc}") from exc
    return Response(int(status_line[1]), headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            await _skip_trailers(reader)
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _skip_trailers(reader: asyncio.StreamReader) -> None:
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass
