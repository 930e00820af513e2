"""Table definitions rewritten for a scratch copy: the same columns, partitioning and order in
another database, as a plain (non-replicated) table, so that a verification copy never joins the
live tables' replication in ZooKeeper."""

from __future__ import annotations

import re

from luminate.storage.sql import ident

_CREATE = re.compile(
    r"^\s*(?:CREATE|ATTACH)\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?:`?[A-Za-z_][A-Za-z0-9_]*`?\.)?`?(?P<table>[A-Za-z_][A-Za-z0-9_]*)`?"
    r"(?:\s+UUID\s+'[^']*')?(?:\s+ON\s+CLUSTER\s+\S+)?",
    re.IGNORECASE,
)
# ReplicatedXMergeTree('<zk path>', '<replica>'[, args]) -> XMergeTree([args])
_REPLICATED = re.compile(
    r"Replicated(?P<family>[A-Za-z]*MergeTree)\(\s*'(?:\\.|[^'\\])*'\s*,\s*"
    r"'(?:\\.|[^'\\])*'\s*(?:,\s*(?P<args>[^)]*))?\)"
)


class DefinitionError(ValueError):
    pass


def table_name(create: str) -> str:
    match = _CREATE.match(create)
    if not match:
        raise DefinitionError(f"not a CREATE TABLE statement: {create[:80]!r}")
    return match["table"]


def scratch_create(create: str, database: str, cluster: str | None = None) -> str:
    """`create` (as SHOW CREATE TABLE prints it) as a plain table in `database`."""
    match = _CREATE.match(create)
    if not match:
        raise DefinitionError(f"not a CREATE TABLE statement: {create[:80]!r}")
    on_cluster = f" ON CLUSTER {ident(cluster)}" if cluster else ""
    head = f"CREATE TABLE {ident(database)}.{ident(match['table'])}{on_cluster}"
    body = create[match.end() :]
    body = _REPLICATED.sub(lambda m: f"{m['family']}({(m['args'] or '').strip()})", body)
    return head + body
