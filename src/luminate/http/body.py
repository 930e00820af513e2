"""Reading request bodies with hard limits, before and after decompression (no gzip bombs)."""

from __future__ import annotations

import asyncio
import io
import zlib

import zstandard
from starlette.requests import Request

from luminate.model.errors import (
    BadRequest,
    ErrorCode,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)

_CHUNK = 64 * 1024


def _too_large(limit: int, what: str, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{what} exceeds {limit} bytes ({setting})",
        details={"limit_bytes": limit, "setting": setting},
    )


async def read_body(
    request: Request,
    limit: int,
    setting: str = "LUMINATE_WRITE_MAX_BODY_BYTES",
    *,
    chunk_timeout_s: float | None = None,
    encoded: bool = False,
) -> bytes:
    """The decoded body, at most `limit` bytes after decompression; 413/415/400 otherwise, and
    408 when the client sends no byte of it for `chunk_timeout_s` (the connection is closed).
    With `encoded`, the body is returned as sent: the caller owns its Content-Encoding (snappy
    for remote_write) and its decompression limit."""
    # Bodies are always JSON; Content-Type is not checked (curl's default form type included).
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoded:
        encoding = "identity"
    elif encoding not in ("identity", "", "gzip", "x-gzip", "zstd"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding[:32]!r} is not supported; use gzip, zstd or none",
            code=ErrorCode.UNSUPPORTED_CONTENT_ENCODING,
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, "body", setting)
    chunks = []
    size = 0
    stream = request.stream()
    while True:
        try:
            async with asyncio.timeout(chunk_timeout_s):
                chunk = await anext(stream)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise RequestTimeout(
                f"no byte of the body for {chunk_timeout_s:g} s after {size} bytes "
                "(LUMINATE_HTTP_BODY_TIMEOUT_SECONDS)",
                details={"received_bytes": size},
            ) from None
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, "body", setting)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if encoding in ("gzip", "x-gzip"):
        return _gunzip(raw, limit, setting)
    if encoding == "zstd":
        return _unzstd(raw, limit, setting)
    return raw


def _corrupt(kind: str, why: object) -> BadRequest:
    return BadRequest(f"{kind} body is corrupt: {why}", code=ErrorCode.INVALID_COMPRESSED_BODY)


def _gunzip(raw: bytes, limit: int, setting: str) -> bytes:
    """Every gzip member (RFC 1952 allows several), never more than `limit` bytes of output."""
    out = bytearray()
    data = raw
    try:
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not d.eof:
                if not data:
                    raise _corrupt("gzip", "truncated")
                out += d.decompress(data, limit + 1 - len(out))
                if len(out) > limit:
                    raise _too_large(limit, "decompressed body", setting)
                data = d.unconsumed_tail
            data = d.unused_data
    except zlib.error as exc:
        raise _corrupt("gzip", exc) from None
    return bytes(out)


def _unzstd(raw: bytes, limit: int, setting: str) -> bytes:
    """Every zstd frame (RFC 8878 allows several), never more than `limit` bytes of output, and
    only when the last frame is complete."""
    try:
        # Bounded read first: a bomb stops here, whatever content size its frame declares.
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(raw), read_across_frames=True
        )
        out = reader.read(limit + 1)
        if len(out) > limit:
            raise _too_large(limit, "decompressed body", setting)
        # The output is known to be small now; make sure no frame was cut short, which the
        # stream reader does not report.
        data = raw
        while data:
            frame = zstandard.ZstdDecompressor().decompressobj()
            frame.decompress(data)
            if not frame.eof:
                raise _corrupt("zstd", "truncated")
            data = frame.unused_data
    except zstandard.ZstdError as exc:
        raise _corrupt("zstd", exc) from None
    return bytes(out)
