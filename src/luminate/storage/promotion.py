"""Which dimension keys have their own column, and which dimension each metric's rows are sorted
by: chosen from the points written, so nobody has to name them.

Promotion: every dimension key gets its own column the first time a point carries it, up to
`MAX_PROMOTED` keys per table (the rest stay in the `extra_keys`/`extra_values` arrays). A key is
promoted before any point carrying it is written, so its values are in its column or, past the
cap, in the arrays, never in both. A key whose values are nearly all distinct (user ids) gets a
plain string column, the others a dictionary-encoded one.

Lead dimension: the rows of a metric are sorted by the value of one of its keys (`lead_key`,
`lead`) before time, so that a query for one value reads that value's rows only. The lead is the
key of the largest cardinality that still groups points (at most `MAX_LEAD_CARDINALITY`
values: a customer, host or pod, not a request id), present on nearly every point, estimated from
the first points of the metric a process sees. The choice is kept per process; another process
or a restart may choose differently, which costs only pruning on the rows it wrote, never
correctness (`Layout.equals`)."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

from luminate.model.points import TenantPoints
from luminate.storage import schema
from luminate.storage.columns import Group
from luminate.storage.compile import Layout, promoted_column
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError
from luminate.storage.sql import SystemStatement, Table

log = logging.getLogger("luminate.storage")

MAX_PROMOTED = 100
MAX_LEAD_CARDINALITY = 100_000
# A key is the lead only if nearly every point of the metric carries it.
LEAD_PRESENCE = 0.9
# Points of a metric looked at before its lead is chosen (fewer if they are all there is).
LEAD_SAMPLE = 1_000
_PREFIX = promoted_column("")


def estimate_cardinality(distinct: int, n: int) -> float:
    """The number of equally likely values that `n` draws with `distinct` different ones point
    to (inverting the expected distinct count C·(1 - e^(-n/C)); infinite when all differ)."""
    if distinct >= n:
        return math.inf
    lo, hi = float(distinct), float(distinct)
    while hi * (1 - math.exp(-n / hi)) < distinct:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if mid * (1 - math.exp(-n / mid)) < distinct:
            lo = mid
        else:
            hi = mid
    return hi


def _key_stats(
    keys: Sequence[Sequence[str]], values: Sequence[Sequence[str]]
) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for ks, vs in zip(keys, values, strict=True):
        for k, v in zip(ks, vs, strict=True):
            seen.setdefault(k, set()).add(v)
    return seen


def choose_lead(keys: Sequence[Sequence[str]], values: Sequence[Sequence[str]]) -> str:
    """The lead dimension for a metric whose first points are given ('' for none)."""
    n = len(keys)
    if not n:
        return ""
    presence: dict[str, int] = {}
    for ks in keys:
        for k in ks:
            presence[k] = presence.get(k, 0) + 1
    best, best_c = "", 0.0
    for key, distinct in _key_stats(keys, values).items():
        count = presence[key]
        if count < LEAD_PRESENCE * n or len(distinct) < 2:
            continue
        c = estimate_cardinality(len(distinct), count)
        if c <= MAX_LEAD_CARDINALITY and (c > best_c or (c == best_c and key < best)):
            best, best_c = key, c
    return best


class Promotions:
    """The current promoted columns and lead choices of one storage; thread-safe."""

    def __init__(
        self,
        engine: Engine,
        caps: schema.Capabilities,
        topology: schema.Topology,
        *,
        max_promoted: int = MAX_PROMOTED,
    ) -> None:
        self._engine = engine
        self._caps = caps
        self._topology = topology
        self._max = max_promoted
        self._lock = threading.Lock()
        self._columns: dict[str, schema.Promoted] = {}
        self._leads: dict[tuple[str, str], str] = {}
        self._samples: dict[tuple[str, str], tuple[list[list[str]], list[Sequence[str]]]] = {}
        self.layout = Layout()

    def load(self) -> None:
        """Read the promoted columns the table has (at start, and whenever another process
        may have added some)."""
        table = self._topology.storage_table(Table.SAMPLES)
        sql = schema.existing_columns(self._topology, table, ("name", "type"))
        rows = self._engine.select(SystemStatement(sql)).rows
        columns = {}
        for name, type_ in ((str(r[0]), str(r[1])) for r in rows):
            if name.startswith(_PREFIX) and len(name) > len(_PREFIX):
                key = name[len(_PREFIX) :]
                columns[key] = schema.Promoted(key, distinct="LowCardinality" not in type_)
        with self._lock:
            self._set(columns)

    def _set(self, columns: dict[str, schema.Promoted]) -> None:
        self._columns = columns
        self.layout = Layout(frozenset(columns))

    @property
    def promoted(self) -> dict[str, schema.Promoted]:
        return self._columns

    def prepare(
        self, batches: Sequence[TenantPoints], all_groups: Sequence[Sequence[Group]]
    ) -> tuple[frozenset[str], dict[str, str]]:
        """Promote the keys of these points that have no column yet (while under the cap), and
        choose the lead of metrics not seen before. Returns the promoted keys to write into
        columns and the lead key per `tenant\\0metric`."""
        with self._lock:
            cols = self._columns
            new = sorted({k for gs in all_groups for g in gs for k in g.keys if k not in cols})
            if new:
                self._promote(new, batches)
            leads = self._choose_leads(all_groups, batches)
            return frozenset(self._columns), leads

    def _promote(self, new: list[str], batches: Sequence[TenantPoints]) -> None:
        room = self._max - len(self._columns)
        if room <= 0:
            return
        # Another process may have promoted keys meanwhile; never promote past what it did.
        self._reload_locked()
        new = [k for k in new if k not in self._columns][: max(0, self._max - len(self._columns))]
        if not new:
            return
        stats: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        for b in batches:
            for k, vals in _key_stats(b.keys, b.dim_values).items():
                stats.setdefault(k, set()).update(vals)
            for ks in b.keys:
                for k in ks:
                    counts[k] = counts.get(k, 0) + 1
        adding = [
            schema.Promoted(
                k,
                distinct=counts.get(k, 0) >= 100
                and estimate_cardinality(len(stats.get(k, ())), counts[k]) > MAX_LEAD_CARDINALITY,
            )
            for k in new
        ]
        after = sorted([*self._columns, *new])
        try:
            for sql in schema.add_promoted(self._caps, self._topology, adding, after):
                self._engine.execute(SystemStatement(sql))
        except StorageError as exc:
            # Most likely another process added the same column first: take the table's view.
            log.info("promotion did not apply; rereading the columns", extra={"error": str(exc)})
            self._reload_locked()
            if any(k not in self._columns for k in new):
                raise
            return
        log.info("dimension keys promoted to columns", extra={"keys": new})
        self._set({**self._columns, **{p.key: p for p in adding}})

    def _reload_locked(self) -> None:
        self._lock.release()
        try:
            self.load()
        finally:
            self._lock.acquire()

    def _choose_leads(
        self, all_groups: Sequence[Sequence[Group]], batches: Sequence[TenantPoints]
    ) -> dict[str, str]:
        leads: dict[str, str] = {}
        for gs, b in zip(all_groups, batches, strict=True):
            for name in dict.fromkeys(g.metric for g in gs):
                key = (b.tenant, name)
                lead = self._leads.get(key)
                if lead is None:
                    lead = self._sample(key, b, name)
                leads[f"{b.tenant}\0{name}"] = lead or ""
        return leads

    def _sample(self, key: tuple[str, str], b: TenantPoints, name: str) -> str | None:
        """Collect points of a new metric until there are enough to choose its lead; until
        then its points are written without one."""
        keys, values = self._samples.setdefault(key, ([], []))
        for i, n in enumerate(b.names):
            if n == name:
                keys.append(b.keys[i])
                values.append(b.dim_values[i])
                if len(keys) >= LEAD_SAMPLE:
                    break
        if len(keys) < LEAD_SAMPLE and len(b) < LEAD_SAMPLE // 2 and len(self._samples) < 10_000:
            return None
        del self._samples[key]
        lead = self._leads[key] = choose_lead(keys, values)
        return lead
