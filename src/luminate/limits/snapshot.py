"""A tenant's series tracker as bytes: what one process saves to storage and another (or the same
one after a restart) merges. msgpack, then zstd; a version number leads so the layout can
change."""

from __future__ import annotations

import msgspec
import zstandard

VERSION = 1
# A snapshot never holds more than the biggest Bloom filter (25 MB) and the per-metric sketches;
# decompressing more than this is refused, so a corrupt or hostile row cannot exhaust memory.
MAX_BYTES = 64 * 1024 * 1024


class Snapshot(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """`hll` and each of `metrics` are DataSketches HLL sketches (compact serialization);
    `exact` is the membership set as little-endian unsigned 64-bit hashes, or `bloom` the bytes
    of a Bloom filter (one of the two is set)."""

    version: int
    window_start: float
    hll: bytes
    metrics: dict[str, bytes]
    exact: bytes | None = None
    bloom: bytes | None = None


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Snapshot)


def encode(snapshot: Snapshot) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(_encoder.encode(snapshot))


def decode(data: bytes) -> Snapshot:
    """The snapshot in `data`; ValueError when it is not one this version understands."""
    try:
        with zstandard.ZstdDecompressor().stream_reader(data) as reader:
            raw = reader.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError(f"series snapshot larger than {MAX_BYTES} bytes")
        snapshot = _decoder.decode(raw)
    except (zstandard.ZstdError, msgspec.DecodeError) as exc:
        raise ValueError(f"not a series snapshot: {exc}") from None
    if snapshot.version != VERSION:
        raise ValueError(f"series snapshot version {snapshot.version}, expected {VERSION}")
    if (snapshot.exact is None) == (snapshot.bloom is None):
        raise ValueError("series snapshot must hold exactly one of a set and a filter")
    return snapshot
