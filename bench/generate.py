"""Deterministic high-cardinality points for the metric `api_latency`, as ready-to-send write
bodies.

Point `i` of a data set depends only on the seed, `i`, the number of points and the time span:
random columns come from blocks of `BLOCK` points, each drawn from its own generator seeded with
`(seed, block index)`, so any slice can be produced on its own (by any client process, with any
batch size) and still be identical to the same slice of a sequential run. Timestamps rise
evenly from `end - span` to just before `end`, so batches arrive roughly in time order.

    python -m bench.generate --points 1000000 --batch-size 5000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import msgspec
import numpy as np
import numpy.typing as npt

METRIC = "api_latency"
CUSTOMERS = 1_000
ENDPOINTS = 50
USERS = 1_000_000
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")
BLOCK = 1_000
DEFAULT_SEED = 20_261_125
DEFAULT_SPAN_S = 3_600
# Latency in milliseconds: median e^3.4 (about 30 ms), long right tail.
LOG_MEAN = 3.4
LOG_SIGMA = 0.8


class Dimensions(msgspec.Struct, gc=False):
    customer_id: str
    endpoint: str
    region: str
    user_id: str


class Point(msgspec.Struct, gc=False):
    name: str
    timestamp: int
    value: float
    dimensions: Dimensions


class WriteBody(msgspec.Struct, gc=False):
    metrics: list[Point]


_encoder = msgspec.json.Encoder()


def customer_name(i: int) -> str:
    return f"cust_{i}"


@cache
def _names() -> tuple[npt.NDArray[np.object_], ...]:
    """Lookup tables from index to dimension value (object arrays, so fancy indexing yields
    the interned str objects without formatting anything per point)."""
    customers = np.array([customer_name(i) for i in range(CUSTOMERS)], dtype=object)
    endpoints = np.array([f"/api/v1/endpoint_{i:02d}" for i in range(ENDPOINTS)], dtype=object)
    regions = np.array(REGIONS, dtype=object)
    users = np.array([f"user_{i}" for i in range(USERS)], dtype=object)
    return customers, endpoints, regions, users


@dataclass(frozen=True)
class DataSet:
    """`points` points over `[end_ms - span_ms, end_ms)`."""

    points: int
    end_ms: int
    span_ms: int = DEFAULT_SPAN_S * 1000
    seed: int = DEFAULT_SEED

    @property
    def start_ms(self) -> int:
        return self.end_ms - self.span_ms

    def batches(self, batch_size: int) -> int:
        return -(-self.points // batch_size)

    def batch_range(self, index: int, batch_size: int) -> tuple[int, int]:
        start = index * batch_size
        return start, min(start + batch_size, self.points)


@dataclass(frozen=True)
class Columns:
    """Points `[start, stop)` column by column, as numpy arrays."""

    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    customers: npt.NDArray[np.int64]
    endpoints: npt.NDArray[np.int64]
    regions: npt.NDArray[np.int64]
    users: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.timestamps)


def _block(seed: int, index: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    rng = np.random.default_rng([seed, index])
    ints = np.empty((4, BLOCK), dtype=np.int64)
    ints[0] = rng.integers(0, CUSTOMERS, BLOCK)
    ints[1] = rng.integers(0, ENDPOINTS, BLOCK)
    ints[2] = rng.integers(0, len(REGIONS), BLOCK)
    ints[3] = rng.integers(0, USERS, BLOCK)
    values = np.round(rng.lognormal(LOG_MEAN, LOG_SIGMA, BLOCK), 3)
    return ints, values


def columns(data: DataSet, start: int, stop: int) -> Columns:
    if not 0 <= start <= stop <= data.points:
        raise ValueError(f"slice [{start}, {stop}) is outside 0..{data.points}")
    first, last = start // BLOCK, -(-stop // BLOCK)
    blocks = [_block(data.seed, b) for b in range(first, last)]
    ints = np.concatenate([b[0] for b in blocks], axis=1) if blocks else np.empty((4, 0), np.int64)
    values = np.concatenate([b[1] for b in blocks]) if blocks else np.empty(0, np.float64)
    lo, hi = start - first * BLOCK, stop - first * BLOCK
    index = np.arange(start, stop, dtype=np.int64)
    return Columns(
        timestamps=data.start_ms + index * data.span_ms // data.points,
        values=values[lo:hi],
        customers=ints[0, lo:hi],
        endpoints=ints[1, lo:hi],
        regions=ints[2, lo:hi],
        users=ints[3, lo:hi],
    )


def encode(cols: Columns) -> bytes:
    """`{"metrics": [...]}` for the given points."""
    customers, endpoints, regions, users = _names()
    n = len(cols)
    dims = map(
        Dimensions,
        customers[cols.customers].tolist(),
        endpoints[cols.endpoints].tolist(),
        regions[cols.regions].tolist(),
        users[cols.users].tolist(),
    )
    points = list(map(Point, [METRIC] * n, cols.timestamps.tolist(), cols.values.tolist(), dims))
    return _encoder.encode(WriteBody(points))


@dataclass(frozen=True)
class Body:
    index: int
    points: int
    data: bytes


def bodies(data: DataSet, batch_size: int, indices: Sequence[int] | None = None) -> Iterator[Body]:
    """Encoded write bodies of `batch_size` points (the last may be smaller), for the given
    batch indices (default: all, in order)."""
    for i in range(data.batches(batch_size)) if indices is None else indices:
        start, stop = data.batch_range(i, batch_size)
        yield Body(i, stop - start, encode(columns(data, start, stop)))


def _main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.generate", description="time the generator and show a sample"
    )
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=5_000)
    p.add_argument("--span", type=int, default=DEFAULT_SPAN_S, help="seconds, ending now")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = p.parse_args(argv)
    data = DataSet(args.points, time.time_ns() // 1_000_000, args.span * 1000, args.seed)
    started = time.perf_counter()
    n_bytes = n_bodies = 0
    first = b""
    for body in bodies(data, args.batch_size):
        first = first or body.data
        n_bytes += len(body.data)
        n_bodies += 1
    elapsed = time.perf_counter() - started
    print(
        f"{data.points:,} points in {n_bodies:,} bodies, {n_bytes / 1e6:,.1f} MB "
        f"({n_bytes / max(data.points, 1):.0f} B/point) in {elapsed:.2f} s "
        f"({data.points / elapsed:,.0f} points/s)"
    )
    print(first[:400].decode() + " ...")


if __name__ == "__main__":
    _main()
