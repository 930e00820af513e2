"""One generator for every system: the points of `bench.generate` in each system's write format.

Two scenarios, as in the comparison's table: `low` (customer_id x1,000, endpoint x50, region
x5: at most 250,000 series) and `high` (plus user_id over 1,000,000 values, so nearly every
point is its own series). Point `i` is the same in every format."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from bench.generate import METRIC, Columns, DataSet, _names, columns

KEYS_LOW = ("customer_id", "endpoint", "region")
KEYS_HIGH = (*KEYS_LOW, "user_id")


@dataclass(frozen=True)
class Scenario:
    name: str
    users: bool

    @property
    def keys(self) -> tuple[str, ...]:
        return KEYS_HIGH if self.users else KEYS_LOW


SCENARIOS = {"low": Scenario("low", users=False), "high": Scenario("high", users=True)}


def dimension_columns(cols: Columns, scenario: Scenario) -> list[npt.NDArray[np.object_]]:
    customers, endpoints, regions, users = _names()
    out = [customers[cols.customers], endpoints[cols.endpoints], regions[cols.regions]]
    if scenario.users:
        out.append(users[cols.users])
    return out


_json = msgspec.json.Encoder()


def luminate_body(cols: Columns, scenario: Scenario) -> bytes:
    dims = dimension_columns(cols, scenario)
    keys = scenario.keys
    transposed = zip(*(d.tolist() for d in dims), strict=True)
    rows = [dict(zip(keys, vals, strict=True)) for vals in transposed]
    stamps = cols.timestamps.tolist()
    values = cols.values.tolist()
    metrics = [
        {"name": METRIC, "timestamp": t, "value": v, "dimensions": d}
        for t, v, d in zip(stamps, values, rows, strict=True)
    ]
    return _json.encode({"metrics": metrics})


def line_protocol(cols: Columns, scenario: Scenario) -> bytes:
    """InfluxDB line protocol, millisecond timestamps (`precision=ms`)."""
    dims = [d.tolist() for d in dimension_columns(cols, scenario)]
    keys = scenario.keys
    stamps = cols.timestamps.tolist()
    values = cols.values.tolist()
    lines = []
    for i, (t, v) in enumerate(zip(stamps, values, strict=True)):
        tags = ",".join(f"{k}={d[i]}" for k, d in zip(keys, dims, strict=True))
        lines.append(f"{METRIC},{tags} value={v!r} {t}")
    return ("\n".join(lines) + "\n").encode()


def clickhouse_rows(cols: Columns, scenario: Scenario) -> list[list[object]]:
    """Columns of the raw wide table: one per dimension, then timestamp and value."""
    dims: list[list[object]] = [d.tolist() for d in dimension_columns(cols, scenario)]
    if not scenario.users:
        dims.append([""] * len(cols))
    return [*dims, cols.timestamps.tolist(), cols.values.tolist()]


def slice_of(data: DataSet, batch: int, batch_size: int) -> Columns:
    return columns(data, *data.batch_range(batch, batch_size))
