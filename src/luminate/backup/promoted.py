"""A backup's dimension columns, brought to the live table before a restore.

Every dimension key gets its own column the first time a point carries it (`storage/promotion.py`),
so a store restored into has usually not seen the backup's keys yet: before anything is restored,
the live table gets the backup's dimension columns it lacks, by the same statements promotion
uses (they also point `dim_keys`/`dim_values` at the new columns). Columns the live table has and
the backup lacks are fine: restored rows simply hold no value there, as rows written before a key
was promoted do."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from luminate.backup.fingerprint import Select, columns
from luminate.backup.manifest import Column, Manifest
from luminate.storage import schema
from luminate.storage.compile import promoted_column
from luminate.storage.sql import Table

PREFIX = promoted_column("")


def is_dimension(name: str) -> bool:
    """Whether a column is a dimension key's own column."""
    return name.startswith(PREFIX) and len(name) > len(PREFIX)


def _key(name: str) -> str:
    return name[len(PREFIX) :]


def missing_here(backed: Sequence[Column], here: Sequence[Column]) -> list[schema.Promoted]:
    """The backup's dimension columns the live table lacks, typed as they were backed up."""
    have = {c.name for c in here}
    return [
        schema.Promoted(_key(c.name), distinct="LowCardinality" not in c.type)
        for c in backed
        if c.kind == "" and is_dimension(c.name) and c.name not in have
    ]


def extra_here(backed: Sequence[Column], here: Sequence[Column]) -> list[Column]:
    """The live table's dimension columns the backup lacks."""
    names = {c.name for c in backed}
    return [c for c in here if is_dimension(c.name) and c.name not in names]


def add_backup_columns(
    select: Select, run: Callable[[str], None], topo: schema.Topology, manifest: Manifest
) -> list[str]:
    """Give the live samples table the backup's dimension columns it lacks; returns their keys."""
    table = topo.storage_table(Table.SAMPLES)
    backed = next((t for t in manifest.tables if t.name == table), None)
    if backed is None:
        return []
    here = columns(select, topo.database or "default", table)
    adding = missing_here(backed.columns, here)
    if not adding:
        return []
    caps = schema.check_supported(schema.parse_version(str(select("SELECT version()")[0][0])))
    have = [_key(c.name) for c in here if is_dimension(c.name)]
    after = sorted({*have, *(p.key for p in adding)})
    for sql in schema.add_promoted(caps, topo, adding, after):
        run(sql)
    return [p.key for p in adding]
