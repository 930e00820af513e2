"""Row counts and content checksums per partition, computed by the engine itself, so that a
restored copy can be compared with what was backed up.

A part's checksum is the wrapping 64-bit sum of `cityHash64` over the row's stored columns
(materialized columns follow from them). Parts never change once written, so a part name
identifies its content: the sums of the parts a backup captured are the sums of the backup.
The same SQL runs on ClickHouse 18.16, current servers and the embedded engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from luminate.backup.manifest import Column, PartitionSum
from luminate.storage.sql import ident, quote

Select = Callable[[str], list[list[Any]]]
_MASK = (1 << 64) - 1
_COMPUTED = ("MATERIALIZED", "ALIAS")


@dataclass(frozen=True)
class PartSum:
    part: str
    partition: str
    rows: int
    checksum: int


def columns_sql(database: str, table: str) -> str:
    return (
        "SELECT name, type, default_kind FROM system.columns "
        f"WHERE database = {quote(database)} AND table = {quote(table)}"
    )


def columns(select: Select, database: str, table: str) -> list[Column]:
    return [Column(str(r[0]), str(r[1]), str(r[2])) for r in select(columns_sql(database, table))]


def stored(cols: Sequence[Column]) -> list[str]:
    return [c.name for c in cols if c.kind not in _COMPUTED]


def part_sums_sql(database: str, table: str, cols: Sequence[str], parts: Iterable[str]) -> str:
    """Per-part rows and checksums of `parts` (all active parts when empty)."""
    names = sorted(set(parts))
    where = f" WHERE _part IN ({', '.join(map(quote, names))})" if names else ""
    hashed = ", ".join(ident(c) for c in cols)
    return (
        f"SELECT _part, count(), sum(cityHash64({hashed})) "
        f"FROM {ident(database)}.{ident(table)}{where} GROUP BY _part"
    )


def active_parts_sql(database: str, table: str) -> str:
    return (
        "SELECT name, partition_id, rows FROM system.parts "
        f"WHERE database = {quote(database)} AND table = {quote(table)} AND active"
    )


def named_parts_sql(database: str, table: str, names: Iterable[str]) -> str:
    """Name and partition of the parts named, active or not (an outdated part stays listed
    until the engine removes its directory)."""
    return (
        "SELECT DISTINCT name, partition_id FROM system.parts "
        f"WHERE database = {quote(database)} AND table = {quote(table)} "
        f"AND name IN ({', '.join(map(quote, sorted(names)))})"
    )


def part_sums(
    select: Select,
    database: str,
    table: str,
    cols: Sequence[str],
    parts: Iterable[str] = (),
) -> list[PartSum]:
    """Sums of the given parts (or of every active part). Raises LookupError naming the parts
    that are no longer active (merged or dropped meanwhile).

    Of every active part, the SELECT reads whatever parts are active when it runs: a merge that
    finishes after the listing and before it shows the SELECT a part the listing lacks (and
    the parts it replaced, which the SELECT no longer sees, count zero rows). Such a part's
    partition is looked up again, in `system.parts` whether or not still active."""
    wanted = set(parts)
    partition_of = {str(r[0]): str(r[1]) for r in select(active_parts_sql(database, table))}
    missing = sorted(wanted - partition_of.keys())
    if missing:
        raise LookupError(f"parts no longer active in {database}.{table}: {', '.join(missing)}")
    rows = select(part_sums_sql(database, table, cols, wanted))
    merged = {str(r[0]) for r in rows} - partition_of.keys()
    if merged:
        partition_of.update(
            {str(r[0]): str(r[1]) for r in select(named_parts_sql(database, table, merged))}
        )
        if lost := sorted(merged - partition_of.keys()):
            raise LookupError(f"parts gone from {database}.{table} as read: {', '.join(lost)}")
    sums = [PartSum(str(r[0]), partition_of[str(r[0])], int(r[1]), int(r[2]) & _MASK) for r in rows]
    # A part with no rows never appears in GROUP BY: it still has to be accounted for.
    seen = {s.part for s in sums}
    for part in sorted((wanted or partition_of.keys()) - seen):
        sums.append(PartSum(part, partition_of[part], 0, 0))
    return sums


def by_partition(table: str, shard: int, sums: Iterable[PartSum]) -> list[PartitionSum]:
    rows: dict[str, int] = defaultdict(int)
    checksum: dict[str, int] = defaultdict(int)
    for s in sums:
        rows[s.partition] += s.rows
        checksum[s.partition] = (checksum[s.partition] + s.checksum) & _MASK
    return [PartitionSum(table, shard, p, rows[p], checksum[p]) for p in sorted(rows)]


def differences(expected: Iterable[PartitionSum], found: Iterable[PartitionSum]) -> list[str]:
    """What differs between the manifest's partitions and a restored copy's, one line each."""
    want = {(p.table, p.shard, p.partition): p for p in expected if p.rows}
    have = {(p.table, p.shard, p.partition): p for p in found if p.rows}
    out = []
    for key in sorted(want.keys() | have.keys()):
        table, shard, partition = key
        where = f"{table} partition {partition}" + (f" on shard {shard}" if shard else "")
        w, h = want.get(key), have.get(key)
        if h is None:
            out.append(f"{where}: missing ({w.rows if w else 0} rows in the manifest)")
        elif w is None:
            out.append(f"{where}: {h.rows} rows restored that the manifest does not list")
        elif (w.rows, w.checksum) != (h.rows, h.checksum):
            out.append(
                f"{where}: manifest {w.rows} rows / checksum {w.checksum:016x}, "
                f"restored {h.rows} rows / checksum {h.checksum:016x}"
            )
    return out


def schema_differences(backup: Sequence[Column], here: Sequence[Column], table: str) -> list[str]:
    """Column differences between a backed-up table and the table it would be restored into."""
    old = {c.name: c for c in backup}
    new = {c.name: c for c in here}
    out = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if b is None:
            out.append(f"{table}.{name} ({a.type if a else '?'}) is in the backup only")
        elif a is None:
            out.append(f"{table}.{name} ({b.type}) exists here but not in the backup")
        elif (a.type, a.kind) != (b.type, b.kind):
            out.append(
                f"{table}.{name} is {(a.kind + ' ' + a.type).strip()} in the backup, "
                f"{(b.kind + ' ' + b.type).strip()} here"
            )
    return out
