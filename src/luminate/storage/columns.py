"""Validated points turned into the columns of one insert: a column per promoted dimension key,
the other dimensions in `extra_keys`/`extra_values`, and each point's lead value.

Rows may go in any order, so the insert takes its points group by group, a group being the points
of one batch with the same metric and the same keys in the same order. Points of one write nearly
always form one group: then every column of the insert is a concatenation of lists the request
already holds (each key's values come out of the group with one transpose), with no work per
point in Python."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from luminate.model.points import TenantPoints
from luminate.storage.compile import promoted_column
from luminate.storage.engine import Column, Runs


@dataclass
class Group:
    """Points of one batch with the same metric and keys; `positions` in the batch, or None for
    all of them in order."""

    tenant: str
    metric: str
    keys: tuple[str, ...]
    positions: list[int] | None = None


def groups(batch: TenantPoints) -> list[Group]:
    names = batch.names
    keys = batch.keys
    if not names:
        return []
    # The usual case, checked in C: one metric, one list of keys.
    if names.count(names[0]) == len(names) and keys.count(keys[0]) == len(keys):
        return [Group(batch.tenant, names[0], tuple(keys[0]))]
    found: dict[tuple[str, tuple[str, ...]], Group] = {}
    for i, (name, ks) in enumerate(zip(names, keys, strict=True)):
        gk = (name, tuple(ks))
        g = found.get(gk)
        if g is None:
            g = found[gk] = Group(batch.tenant, name, gk[1], [])
        assert g.positions is not None
        g.positions.append(i)
    return list(found.values())


@dataclass
class InsertColumns:
    """Column names and their values, ready for an engine's insert."""

    names: list[str]
    data: list[Column]
    rows: int


class _Builder:
    def __init__(self, promoted: frozenset[str], leads: Mapping[str, str]) -> None:
        self.promoted = promoted
        self.leads = leads
        self.rows = 0
        self.tenants = Runs([], [])
        self.metrics = Runs([], [])
        self.lead_keys = Runs([], [])
        self.lead: list[str] = []
        self.stamps: list[int] = []
        self.values: list[float] = []
        self.dims: dict[str, list[str]] = {}
        self.extra_keys: list[list[str]] = []
        self.extra_values: list[list[str]] = []
        self.has_extras = False

    def add(self, batch: TenantPoints, batch_groups: Sequence[Group]) -> None:
        for g in batch_groups:
            if g.positions is None:
                stamps, values, rows = batch.timestamps, batch.values, batch.dim_values
            else:
                stamps = [batch.timestamps[p] for p in g.positions]
                values = [batch.values[p] for p in g.positions]
                rows = [batch.dim_values[p] for p in g.positions]
            self._group(g, stamps, values, rows)

    def _group(
        self,
        g: Group,
        stamps: Sequence[int],
        values: Sequence[float],
        rows: Sequence[Sequence[str]],
    ) -> None:
        n = len(stamps)
        before = self.rows
        self.rows += n
        _run(self.tenants, g.tenant, n)
        _run(self.metrics, g.metric, n)
        lk = self.leads.get(f"{g.tenant}\0{g.metric}", "")
        if lk not in g.keys:
            lk = ""
        _run(self.lead_keys, lk, n)
        self.stamps += stamps
        self.values += values
        columns = list(zip(*rows, strict=True)) if g.keys else []
        extras = []
        for j, k in enumerate(g.keys):
            if k not in self.promoted:
                extras.append(j)
                continue
            col = self.dims.get(k)
            if col is None:
                col = self.dims[k] = [""] * before
            col += columns[j]
        if lk:
            self.lead += columns[g.keys.index(lk)]
        else:
            self.lead += [""] * n
        for short in self.dims.values():
            # Keys this group lacks are empty for its points.
            short.extend([""] * (self.rows - len(short)))
        if extras:
            self.has_extras = True
            names = [g.keys[j] for j in extras]
            self.extra_keys += [names] * n
            self.extra_values += [[row[j] for j in extras] for row in rows]
        else:
            self.extra_keys += [[]] * n
            self.extra_values += [[]] * n

    def done(self) -> InsertColumns:
        names = ["tenant_id", "metric_name", "lead_key", "lead", "timestamp_ms", "value"]
        data: list[Column] = [
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
        only = self.lead_keys.values
        if len(only) == 1 and only[0] in self.dims:
            # Every point's lead is its value of that one key: the same list, sent once.
            data[3] = self.dims[only[0]]
        if self.has_extras:
            names += ["extra_keys", "extra_values"]
            data += [self.extra_keys, self.extra_values]
        return InsertColumns(names, data, self.rows)


def _run(runs: Runs, value: str, n: int) -> None:
    if runs.values and runs.values[-1] == value:
        runs.counts[-1] += n
    else:
        runs.values.append(value)
        runs.counts.append(n)


def build(
    batches: Sequence[TenantPoints],
    all_groups: Sequence[Sequence[Group]],
    promoted: frozenset[str],
    leads: Mapping[str, str],
) -> InsertColumns:
    """The insert's columns; `all_groups[i]` are `groups(batches[i])`, and `leads` the lead key
    per `tenant\\0metric`."""
    builder = _Builder(promoted, leads)
    for batch, batch_groups in zip(batches, all_groups, strict=True):
        builder.add(batch, batch_groups)
    return builder.done()
