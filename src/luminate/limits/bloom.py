"""A Bloom filter over 63-bit series hashes: "was this series seen?" in 10 bits per series.

Its size is a power of two, so a filter folds exactly onto any smaller power of two (a position
`p` of the big filter is `p mod size` of the small one), and two filters of any sizes merge by
folding the larger onto the smaller and OR-ing their bytes. That is what lets processes (and one
process across a restart) combine what they have seen."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

BITS_PER_ITEM = 10  # about 1% false positives with 7 probes
PROBES = 7
MIN_BITS = 1 << 16
# Past this many series (25 MB) the false-positive rate rises instead, which only lets a few
# more new series through.
MAX_CAPACITY = 20_000_000

U64 = npt.NDArray[np.uint64]


def bits_for(capacity: int) -> int:
    """The filter size for `capacity` series at about 1% false positives."""
    capacity = min(max(capacity, 1), MAX_CAPACITY)
    return max(MIN_BITS, 1 << math.ceil(math.log2(capacity * BITS_PER_ITEM)))


class Bloom:
    def __init__(self, bits: int) -> None:
        if bits < MIN_BITS or bits & (bits - 1):
            raise ValueError(f"a Bloom filter has a power of two of at least {MIN_BITS} bits")
        self.bits = bits
        self._mask = np.uint64(bits - 1)
        self._bytes = np.zeros(bits // 8, dtype=np.uint8)
        self._probes = np.arange(PROBES, dtype=np.uint64)

    @classmethod
    def from_bytes(cls, data: bytes) -> Bloom:
        bloom = cls(len(data) * 8)
        bloom._bytes = np.frombuffer(data, dtype=np.uint8).copy()
        return bloom

    def to_bytes(self) -> bytes:
        return self._bytes.tobytes()

    def _positions(self, hashes: U64) -> U64:
        h1 = hashes & np.uint64(0xFFFFFFFF)
        h2 = (hashes >> np.uint64(32)) | np.uint64(1)
        positions: U64 = (h1[:, None] + self._probes[None, :] * h2[:, None]) & self._mask
        return positions

    def contains(self, hashes: U64) -> npt.NDArray[np.bool_]:
        pos = self._positions(hashes)
        hit = (self._bytes[pos >> np.uint64(3)] >> (pos & np.uint64(7)).astype(np.uint8)) & 1
        result: npt.NDArray[np.bool_] = hit.all(axis=1)
        return result

    def add(self, hashes: U64) -> None:
        if not hashes.size:
            return
        pos = self._positions(hashes).ravel()
        byte = (pos >> np.uint64(3)).astype(np.intp)
        bit = np.uint8(1) << (pos & np.uint64(7)).astype(np.uint8)
        # A buffered `|=` keeps one of several bits aimed at the same byte; those few are
        # found by reading back and set again, far cheaper than sorting every position.
        while byte.size:
            self._bytes[byte] |= bit
            lost = (self._bytes[byte] & bit) == 0
            byte, bit = byte[lost], bit[lost]

    def folded(self, bits: int) -> npt.NDArray[np.uint8]:
        """This filter's bytes folded onto a smaller power of two of `bits`."""
        folded: npt.NDArray[np.uint8] = np.bitwise_or.reduce(
            self._bytes.reshape(-1, bits // 8), axis=0
        )
        return folded

    def merged(self, other: Bloom) -> Bloom:
        """A filter that contains what either contains (this one, updated, when it is the
        smaller or equal one)."""
        if other.bits >= self.bits:
            self._bytes |= other.folded(self.bits) if other.bits > self.bits else other._bytes
            return self
        small = Bloom(other.bits)
        small._bytes = self.folded(other.bits) | other._bytes
        return small
