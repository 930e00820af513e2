"""Where the coordination tables (`SystemTable`) live: on one server a plain table; in a cluster a
table every server holds in full, replicated across all shards through ZooKeeper. So any one
server answers for the whole table, and losing a whole shard does not hide a process's heartbeat.

The replica name joins the `{shard}` and `{replica}` macros, so it is unique across the cluster
as long as `{replica}` is unique within its shard."""

from __future__ import annotations

from luminate.storage.schema import Topology
from luminate.storage.sql import SystemTable, ident, quote


def table_name(topo: Topology, table: SystemTable) -> str:
    """The table to read and mutate (`Engine.insert` finds it by itself)."""
    return topo.name(f"{table.value}_local" if topo.cluster else table.value)


def create(topo: Topology, table: SystemTable, columns: str, version: str, order_by: str) -> str:
    """CREATE TABLE for a coordination table whose rows collapse to the latest `version`."""
    if topo.cluster:
        path = quote(f"/clickhouse/tables/all/{topo.database}/{table.value}")
        engine = f"ReplicatedReplacingMergeTree({path}, '{{shard}}-{{replica}}', {ident(version)})"
    else:
        engine = f"ReplacingMergeTree({ident(version)})"
    return (
        f"CREATE TABLE IF NOT EXISTS {table_name(topo, table)}{topo.on_cluster()} ({columns}) "
        f"ENGINE = {engine} ORDER BY ({order_by})"
    )
