"""Insert columns in the form clickhouse-driver sends fastest over the native protocol.

The driver writes a `String` column by encoding every item to UTF-8 as it goes, with the GIL
held; handed `bytes` (with the client setting `strings_as_bytes`) it only copies them. On a
server whose columns are all plain strings (ClickHouse before 21.8:
`schema.Capabilities.modern`) that takes a quarter to a third of an insert's CPU off the
sending thread. Runs of one value (tenant, metric) are encoded once, and a column that appears
twice in an insert (the lead dimension is also its own promoted column) once. The bytes on the
wire are the same either way, so a retried insert is still the identical block that replicated
tables deduplicate by content.

Not on current servers: there most dimensions are `LowCardinality(String)`, for which the
driver encodes only each distinct value, so encoding every item beforehand costs more than it
saves (`bench.server_insert` measures both)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from luminate.storage.engine import Column, Runs
from luminate.storage.sql import SettingValue

# The driver's per-query client setting that makes `String` columns take and return bytes.
STRINGS_AS_BYTES = "strings_as_bytes"

WireColumn = Sequence[object]


def for_driver(data: Sequence[Column], *, as_bytes: bool) -> list[WireColumn]:
    """`data` as the driver takes it: runs expanded and, if `as_bytes`, every string UTF-8
    encoded (numbers untouched). Send it with `driver_settings(..., as_bytes=as_bytes)`."""
    out: list[WireColumn] = []
    done: dict[int, WireColumn] = {}
    for col in data:
        wired = done.get(id(col))
        if wired is None:
            wired = done[id(col)] = _encoded(col) if as_bytes else _expanded(col)
        out.append(wired)
    return out


def driver_settings(
    settings: Mapping[str, SettingValue], *, as_bytes: bool
) -> dict[str, SettingValue]:
    """An insert's settings, telling the driver whether its string columns are bytes."""
    return {**settings, STRINGS_AS_BYTES: True} if as_bytes else dict(settings)


def _expanded(col: Column) -> WireColumn:
    return col.expand() if isinstance(col, Runs) else col


def _encoded(col: Column) -> WireColumn:
    if isinstance(col, Runs):
        out: list[bytes] = []
        for value, count in zip(col.values, col.counts, strict=True):
            out += [value.encode()] * count
        return out
    if not col:
        return col
    first = col[0]
    if isinstance(first, str):
        return list(map(str.encode, cast("Sequence[str]", col)))
    if isinstance(first, list):
        arrays = cast("Sequence[list[str]]", col)
        return [list(map(str.encode, items)) if items else items for items in arrays]
    return col
