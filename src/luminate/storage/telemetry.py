"""What Luminate can see of its storage servers: whether each answers, whether its replicated
tables are read-only, how far replication lags and how many parts a partition holds.

Read from the servers' own system tables, so the alerts built on it work where ClickHouse's
Prometheus endpoint is off (and on servers too old to have one). Only Luminate's database is
looked at."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from luminate.storage.errors import StorageError
from luminate.storage.sql import SystemStatement, quote
from luminate.storage.store import Storage

EMBEDDED = "embedded"


@dataclass(frozen=True)
class ServerState:
    """One server (`host:port`, or `embedded`) as the last probe saw it."""

    server: str
    shard: int
    reachable: bool
    readonly: bool = False
    absolute_delay_s: float = 0.0
    max_parts_per_partition: int = 0
    error: str = ""


def _statement(database: str) -> SystemStatement:
    # Scalar subqueries so one round trip answers all of it (ClickHouse 18.16 included).
    db = f"database = {database}"
    return SystemStatement(
        f"SELECT (SELECT max(is_readonly) FROM system.replicas WHERE {db}), "
        f"(SELECT max(absolute_delay) FROM system.replicas WHERE {db}), "
        f"(SELECT max(c) FROM (SELECT count() AS c FROM system.parts WHERE active AND {db} "
        "GROUP BY table, partition_id))"
    )


def _state(server: str, shard: int, row: list[object]) -> ServerState:
    readonly, delay, parts = (v if v is not None else 0 for v in row)
    return ServerState(
        server,
        shard,
        reachable=True,
        readonly=bool(int(str(readonly))),
        absolute_delay_s=float(str(delay)),
        max_parts_per_partition=int(str(parts)),
    )


def observe(storage: Storage, timeout_s: float) -> list[ServerState]:
    """Every server's state; a server that does not answer is reported unreachable, never
    raised. Blocking: call it from a thread."""
    engine = storage.engine
    database = storage.topology.database
    db = quote(database) if database else "currentDatabase()"
    sql = _statement(db)
    try:
        layout = engine.shards()
    except StorageError as exc:
        # The cluster's layout comes from a server; none answered.
        return [ServerState("cluster", 1, reachable=False, error=str(exc)[:300])]
    if not layout:
        try:
            rows = engine.select(sql).rows
        except StorageError as exc:
            return [ServerState(EMBEDDED, 1, reachable=False, error=str(exc)[:300])]
        return [_state(EMBEDDED, 1, rows[0])]
    servers = [(shard, server) for shard, group in enumerate(layout, start=1) for server in group]

    def one(entry: tuple[int, tuple[str, int]]) -> ServerState:
        shard, (host, port) = entry
        name = f"{host}:{port}"
        try:
            rows = engine.select_on((host, port), sql, timeout_s).rows
        except StorageError as exc:
            return ServerState(name, shard, reachable=False, error=str(exc)[:300])
        return _state(name, shard, rows[0])

    # In parallel: one server that does not answer must not delay the others' report.
    with ThreadPoolExecutor(max_workers=min(len(servers), 16) or 1) as pool:
        return list(pool.map(one, servers))


def writable(states: list[ServerState]) -> bool:
    """Whether every shard has a server that answers and takes inserts (a write goes to one
    shard and fails over only within it)."""
    shards: dict[int, bool] = {}
    for s in states:
        shards[s.shard] = shards.get(s.shard, False) or (s.reachable and not s.readonly)
    return bool(shards) and all(shards.values())
