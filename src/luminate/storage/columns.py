"""Validated points turned into the columns of one insert: a column per promoted dimension key,
the other dimensions in `extra_keys`/`extra_values`, and each point's lead value.

Points of one write nearly always share one list of keys (and one metric), so the work is done
per group of points with the same metric and keys: each key's values come out of a group with
one transpose, and are placed into the insert's columns with numpy, never point by point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from luminate.model.points import TenantPoints
from luminate.storage.compile import promoted_column

Objects = npt.NDArray[np.object_]


@dataclass
class Group:
    """Points of one batch with the same metric and the same keys in the same order."""

    tenant: str
    metric: str
    keys: tuple[str, ...]
    positions: list[int] = field(default_factory=list)


def groups(batch: TenantPoints, offset: int) -> list[Group]:
    """The batch's points by (metric, keys); `positions` count from `offset`."""
    names = batch.names
    keys = batch.keys
    first_name = names[0] if names else ""
    first_keys = keys[0] if keys else []
    # The usual case, checked in C: one metric, one list of keys.
    if names.count(first_name) == len(names) and keys.count(first_keys) == len(keys):
        return [
            Group(
                batch.tenant,
                first_name,
                tuple(first_keys),
                list(range(offset, offset + len(names))),
            )
        ]
    found: dict[tuple[str, tuple[str, ...]], Group] = {}
    for i, (name, ks) in enumerate(zip(names, keys, strict=True)):
        gk = (name, tuple(ks))
        g = found.get(gk)
        if g is None:
            g = found[gk] = Group(batch.tenant, name, gk[1])
        g.positions.append(offset + i)
    return list(found.values())


@dataclass
class InsertColumns:
    """Column names and their values, ready for an engine's insert."""

    names: list[str]
    data: Sequence[Objects | npt.NDArray[np.int64] | npt.NDArray[np.float64] | list[list[str]]]
    rows: int


Data = list[Objects | npt.NDArray[np.int64] | npt.NDArray[np.float64] | list[list[str]]]


class _Builder:
    def __init__(self, n: int, promoted: frozenset[str], leads: Mapping[str, str]) -> None:
        self.n = n
        self.promoted = promoted
        self.leads = leads
        self.tenants = np.empty(n, dtype=object)
        self.metrics = np.empty(n, dtype=object)
        self.lead_keys = np.empty(n, dtype=object)
        self.lead = np.full(n, "", dtype=object)
        self.stamps = np.empty(n, dtype=np.int64)
        self.values = np.empty(n, dtype=np.float64)
        self.dims: dict[str, Objects] = {}
        self.extra_keys: list[list[str]] | None = None
        self.extra_values: list[list[str]] = []

    def add(self, batch: TenantPoints, batch_groups: Sequence[Group], offset: int) -> None:
        stop = offset + len(batch)
        self.tenants[offset:stop] = batch.tenant
        self.stamps[offset:stop] = batch.timestamps
        self.values[offset:stop] = batch.values
        vals = batch.dim_values
        for g in batch_groups:
            if len(batch_groups) == 1:
                self._group(g, slice(offset, stop), vals, range(offset, stop))
            else:
                rows = [vals[p - offset] for p in g.positions]
                self._group(g, np.asarray(g.positions, dtype=np.intp), rows, g.positions)

    def _group(
        self,
        g: Group,
        where: slice | npt.NDArray[np.intp],
        rows: Sequence[Sequence[str]],
        positions: Sequence[int],
    ) -> None:
        self.metrics[where] = g.metric
        lk = self.leads.get(f"{g.tenant}\0{g.metric}", "")
        if lk not in g.keys:
            lk = ""
        self.lead_keys[where] = lk
        columns = list(zip(*rows, strict=True)) if g.keys else []
        extras = []
        for j, k in enumerate(g.keys):
            if k not in self.promoted:
                extras.append(j)
                continue
            col = self.dims.get(k)
            if col is None:
                col = self.dims[k] = np.full(self.n, "", dtype=object)
            col[where] = columns[j]
            if k == lk:
                self.lead[where] = columns[j]
        if extras:
            if self.extra_keys is None:
                self.extra_keys = [[] for _ in range(self.n)]
                self.extra_values = [[] for _ in range(self.n)]
            names = [g.keys[j] for j in extras]
            for p, row in zip(positions, rows, strict=True):
                self.extra_keys[p] = names
                self.extra_values[p] = [row[j] for j in extras]

    def done(self) -> InsertColumns:
        names = ["tenant_id", "metric_name", "lead_key", "lead", "timestamp_ms", "value"]
        data: Data = [
            self.tenants,
            self.metrics,
            self.lead_keys,
            self.lead,
            self.stamps,
            self.values,
        ]
        for k in sorted(self.dims):
            names.append(promoted_column(k))
            data.append(self.dims[k])
        if self.extra_keys is not None:
            names += ["extra_keys", "extra_values"]
            data += [self.extra_keys, self.extra_values]
        return InsertColumns(names, data, self.n)


def build(
    batches: Sequence[TenantPoints],
    all_groups: Sequence[Sequence[Group]],
    promoted: frozenset[str],
    leads: Mapping[str, str],
) -> InsertColumns:
    """The insert's columns; `all_groups[i]` are `groups(batches[i], offset of batch i)`, and
    `leads` the lead key per `tenant\\0metric`."""
    builder = _Builder(sum(len(b) for b in batches), promoted, leads)
    offset = 0
    for batch, batch_groups in zip(batches, all_groups, strict=True):
        builder.add(batch, batch_groups, offset)
        offset += len(batch)
    return builder.done()
