"""A ClickHouse server (or cluster) over the native protocol, through clickhouse-driver.

Failover: every connection knows every host of LUMINATE_CLICKHOUSE_HOSTS; the driver connects to
the first that answers, starting at a different host per connection so load spreads.

In a cluster, reads go through the Distributed tables while each insert goes straight to one
shard's replicated local table: the replica computes the series identity and promoted columns
itself, and the write is acknowledged once the insert quorum of the shard's replicas holds it
(`quorum.py`). Which shard takes it, and where it goes when that shard cannot, is `shards.py`:
a retried insert carries the same deduplication token (or, on servers without tokens, the
identical block, which replicated tables drop by content)."""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
from clickhouse_driver import Client, errors

from luminate.storage import quorum
from luminate.storage.compile import promoted_column
from luminate.storage.engine import Column, SelectResult
from luminate.storage.errors import StorageError, StorageUnavailable, translate
from luminate.storage.native import WireColumn, driver_settings, for_driver
from luminate.storage.quorum import InsertRefused
from luminate.storage.schema import Capabilities, parse_version
from luminate.storage.seal import QuorumSeal
from luminate.storage.shards import Replica, ShardRouter, shards_from_rows
from luminate.storage.sql import (
    AnyStatement,
    SettingValue,
    SystemStatement,
    SystemTable,
    Table,
    ident,
    quote,
)

# ClickHouse error codes a read waits out while a Distributed table is recreated, and how long.
_UNKNOWN_TABLE = 60
_UNKNOWN_IDENTIFIER = 47
_DIMENSION_PREFIX = promoted_column("")
_RECREATED_TABLE_WAIT_S = 5.0


def _recreating(exc: errors.ServerException) -> bool:
    """Whether a read failed only because the Distributed table is being recreated for a new
    dimension column: the table is missing, or lacks a dimension column."""
    if exc.code == _UNKNOWN_TABLE:
        return True
    return exc.code == _UNKNOWN_IDENTIFIER and f"identifier: {_DIMENSION_PREFIX}" in str(
        exc.message
    )


def _translate(exc: Exception, sql: str) -> StorageError:
    if isinstance(exc, errors.ServerException):
        code = int(getattr(exc, "code", 0) or 0)
        first = str(exc.message).strip().splitlines()[0] if exc.message else str(exc)
        first = first.split(" Stack trace:")[0].strip()
        return translate(code, f"Code: {code}. {first}", sql)
    if isinstance(exc, errors.SocketTimeoutError | errors.NetworkError | OSError | EOFError):
        return StorageUnavailable(f"ClickHouse unreachable: {exc}")
    return StorageError(f"{type(exc).__name__}: {exc} [statement: {sql[:200]}]")


def _connected(client: Client) -> None:
    """Make sure the client holds a live connection (a pooled one may point at a server that
    went away), so that a failure to reach the server never happens after data was sent."""
    connection = client.connection
    try:
        alive = bool(connection.connected and connection.ping())
    except Exception:
        alive = False
    if not alive:
        connection.disconnect()
        connection.connect()


def _is_deletion(sql: str) -> bool:
    return sql.startswith("ALTER TABLE ") and " DELETE WHERE " in sql


def _new_client(**options: object) -> Client:
    """The one place a driver client is made; tests that must not reach a server replace it."""
    return Client(**options)


class ClickHouseEngine:
    name = "clickhouse"
    idempotent_inserts: bool
    content_dedup: bool
    min_timeout_s: float

    def __init__(
        self,
        hosts: Sequence[tuple[str, int]],
        *,
        database: str,
        user: str,
        password: str,
        pool_size: int = 4,
        writers: int = 2,
        connect_timeout_s: float = 2.0,
        cluster: str | None = None,
        insert_quorum: quorum.QuorumSpec = "majority",
        insert_quorum_timeout_s: float = 10.0,
    ) -> None:
        if not hosts:
            raise StorageUnavailable("LUMINATE_CLICKHOUSE_HOSTS names no host")
        # The driver logs a traceback for every host it fails over from; failures reach
        # Luminate's own logs as translated errors instead.
        logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)
        self.hosts = list(hosts)
        self.database = database
        self._user = user
        self._password = password
        self._connect_timeout_s = connect_timeout_s
        self.cluster = cluster
        # In a cluster, read every shard from its first live replica (not from whichever
        # replica the entry node is): inserts go there first too, so a write is visible to the
        # next read although replication to the other replicas is asynchronous.
        self._read_settings: dict[str, SettingValue] = (
            {"load_balancing": "in_order", "prefer_localhost_replica": 0} if cluster else {}
        )
        self._next = 0
        self._shard_clients: dict[Replica, queue.Queue[Client]] = {}
        self._monitor: dict[tuple[str, int], queue.Queue[Client]] = {}
        self._shard_lock = threading.Lock()
        self._readers: queue.Queue[Client] = queue.Queue()
        self._writers: queue.Queue[Client] = queue.Queue()
        self._probe: queue.Queue[Client] = queue.Queue()
        # DDL and mutations name their database explicitly and run before it may exist.
        self._admin: queue.Queue[Client] = queue.Queue()
        self._probe.put(self._client("default"))
        self._admin.put(self._client("default"))
        for _ in range(pool_size):
            self._readers.put(self._client())
        for _ in range(writers):
            self._writers.put(self._client())
        self._closed = False
        self._version = parse_version(self.version())
        modern = self._version >= (22, 2)
        # Old servers have no insert tokens; replicated tables still drop a retried identical
        # block by its content, plain ones do not.
        self.idempotent_inserts = modern or cluster is not None
        self.content_dedup = not modern and cluster is not None
        self.min_timeout_s = 0.001 if modern else 1.0
        # Strings go to the driver as UTF-8 bytes where every column is a plain String
        # (native.py says why not otherwise).
        self._as_bytes = not Capabilities(self._version).modern
        self._quorum_spec = insert_quorum
        self._quorum_timeout_s = insert_quorum_timeout_s
        self._insert_settings: dict[str, SettingValue] = {}
        self._router: ShardRouter | None = None
        self._seal: QuorumSeal | None = None
        # Replicas of a shard that hold a part before its insert returns (1: no quorum).
        self.insert_quorum = 1
        try:
            # At start, so that an impossible quorum stops `migrate` and `serve` at once.
            self._plan_inserts()
        except BaseException:
            self.close()
            raise

    def _client(self, database: str | None = None) -> Client:
        """A client that tries every host, starting with the next one in turn."""
        order = self.hosts[self._next :] + self.hosts[: self._next]
        self._next = (self._next + 1) % len(self.hosts)
        return self._connect(order, database or self.database, self._read_settings)

    def _connect(
        self, hosts: Sequence[tuple[str, int]], database: str, settings: dict[str, SettingValue]
    ) -> Client:
        """A (lazily connecting) client for the first of `hosts`, failing over to the rest."""
        (host, port), rest = hosts[0], hosts[1:]
        return _new_client(
            host=host,
            port=port,
            alt_hosts=",".join(f"{h}:{p}" for h, p in rest) or None,
            database=database,
            user=self._user,
            password=self._password,
            connect_timeout=self._connect_timeout_s,
            send_receive_timeout=300,
            sync_request_timeout=self._connect_timeout_s,
            settings=settings,
        )

    @contextmanager
    def _conn(self, pool: queue.Queue[Client]) -> Iterator[Client]:
        if self._closed:
            raise StorageUnavailable("ClickHouse engine is closed")
        client = pool.get()
        try:
            yield client
        except BaseException:
            # The connection may be mid-stream or pointed at a dead host: start over.
            with contextlib.suppress(Exception):
                client.disconnect()
            raise
        finally:
            pool.put(client)

    def version(self) -> str:
        return str(self._select(self._admin, "SELECT version()", {}).rows[0][0])

    def supports_dedup_token(self) -> bool:
        return self._version >= (22, 2)

    def ping(self) -> None:
        with self._conn(self._probe) as client:
            try:
                client.execute("SELECT 1")
            except Exception as exc:
                raise _translate(exc, "SELECT 1") from None

    def execute(self, stmt: AnyStatement) -> None:
        with self._conn(self._admin) as client:
            try:
                client.execute(stmt.sql, settings=dict(stmt.settings))
            except Exception as exc:
                raise _translate(exc, stmt.sql) from None
        if self._seal is not None and _is_deletion(stmt.sql):
            self._seal.after_deletion()

    def _select_on(self, replica: Replica, sql: str) -> list[list[object]]:
        with self._conn(self._replica_pool(replica)) as client:
            try:
                return [list(r) for r in client.execute(sql)]
            except Exception as exc:
                raise _translate(exc, sql) from None

    def select(self, stmt: AnyStatement) -> SelectResult:
        sql = stmt.sql
        settings = dict(stmt.settings)
        if "max_execution_time" in settings and self.min_timeout_s >= 1:
            # Older servers read the setting as whole seconds (0.5 would mean "no limit").
            settings["max_execution_time"] = max(
                1, math.ceil(float(settings["max_execution_time"]))
            )
        try:
            return self._select(self._readers, sql, settings)
        except StorageUnavailable:
            # The pooled connection may point at a server that went away; reads are safe to
            # repeat, and the next connection fails over to a live host.
            return self._select(self._readers, sql, settings)

    def _select(
        self, pool: queue.Queue[Client], sql: str, settings: Mapping[str, SettingValue]
    ) -> SelectResult:
        with self._conn(pool) as client:
            rows = self._execute_read(client, sql, settings)
            progress = client.last_query.progress if client.last_query else None
            read = int(progress.rows) if progress is not None else 0
            return SelectResult([list(r) for r in rows], read)

    def insert(
        self,
        table: Table | SystemTable,
        columns: Sequence[str],
        data: Sequence[Column],
        dedup_token: str,
    ) -> None:
        try:
            wired = for_driver(data, as_bytes=self._as_bytes)
        except UnicodeEncodeError as exc:  # as the driver would fail encoding it itself
            raise _translate(exc, f"INSERT INTO {table.value}") from None
        settings = dict(self._insert_settings)
        if self.supports_dedup_token():
            settings["insert_deduplication_token"] = dedup_token
        if self.cluster is None:
            statement = f"INSERT INTO {table.value} ({', '.join(columns)}) VALUES"
            with self._conn(self._writers) as client:
                try:
                    client.execute(statement, wired, columnar=True, settings=self._driver(settings))
                except Exception as exc:
                    raise _translate(exc, statement) from None
            return
        if self._router is None:
            with self._shard_lock:
                self._plan_inserts()
        if self._router is None:
            raise StorageError(f"cluster {self.cluster!r} is not in remote_servers")
        statement = (
            f"INSERT INTO {ident(self.database)}.{table.value}_local ({', '.join(columns)}) VALUES"
        )
        if isinstance(table, SystemTable):
            self._insert_coordination(statement, wired, dedup_token)
            return
        self._router.insert(
            dedup_token, lambda replica: self._send(replica, statement, wired, settings)
        )

    def _driver(self, settings: Mapping[str, SettingValue]) -> dict[str, SettingValue]:
        return driver_settings(settings, as_bytes=self._as_bytes)

    def _insert_coordination(self, statement: str, data: Sequence[WireColumn], token: str) -> None:
        """Coordination rows (heartbeats, series snapshots) are soft state, replicated to every
        server: any replica may take them, without a quorum (which 18.16 would make every later
        deletion of them wait for), and the next beat repeats them anyway."""
        assert self._router is not None
        replicas = [r for shard in self._router.shards for r in shard.replicas]
        start = zlib.crc32(token.encode()) % len(replicas)
        failure: StorageError | None = None
        for replica in replicas[start:] + replicas[:start]:
            with self._conn(self._replica_pool(replica)) as client:
                try:
                    client.execute(statement, list(data), columnar=True, settings=self._driver({}))
                    return
                except Exception as exc:
                    failure = _translate(exc, statement)
                    if not isinstance(failure, StorageUnavailable):
                        raise failure from None
        raise failure or StorageUnavailable("no replica took the coordination rows")

    def _send(
        self,
        replica: Replica,
        statement: str,
        data: Sequence[WireColumn],
        settings: dict[str, SettingValue],
    ) -> None:
        """One insert on one replica. Raises InsertRefused when none of it was stored."""
        where = f"{replica[0]}:{replica[1]}"
        with self._conn(self._replica_pool(replica)) as client:
            try:
                # Connecting apart from sending: a failure here stored nothing for sure.
                _connected(client)
            except errors.ServerException as exc:
                failure = _translate(exc, statement)
                if int(exc.code or 0) in quorum.REFUSED_CODES:
                    raise InsertRefused(f"{where}: {failure}") from None
                raise failure from None
            except Exception as exc:
                raise InsertRefused(f"{where}: {_translate(exc, statement)}") from None
            try:
                client.execute(
                    statement, list(data), columnar=True, settings=self._driver(settings)
                )
            except errors.ServerException as exc:
                code = int(exc.code or 0)
                failure = _translate(exc, statement)
                if code in quorum.REFUSED_CODES:
                    busy = code == quorum.UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
                    raise InsertRefused(f"{where}: {failure}", busy=busy) from None
                raise failure from None
            except Exception as exc:
                raise _translate(exc, statement) from None

    def _plan_inserts(self) -> None:
        """Resolve the insert quorum against the shards in system.clusters (ImpossibleQuorum
        when it can never be met) and set up the shard router. A cluster that is not in
        remote_servers is left to the schema check, which says so."""
        if self.cluster is None:
            self.insert_quorum = quorum.resolve(self._quorum_spec, [1], None)
            return
        rows = self._select(
            self._admin,
            "SELECT shard_num, host_name, port FROM system.clusters "
            f"WHERE cluster = {quote(self.cluster)} ORDER BY shard_num, replica_num",
            {},
        ).rows
        shards = shards_from_rows(msgspec.convert(rows, list[tuple[int, str, int]]))
        if not shards:
            return
        needed = quorum.resolve(self._quorum_spec, [len(s.replicas) for s in shards], self.cluster)
        parallel = bool(
            self._select(
                self._admin,
                "SELECT count() FROM system.settings WHERE name = 'insert_quorum_parallel'",
                {},
            ).rows[0][0]
        )
        self._insert_settings = quorum.insert_settings(
            needed, self._quorum_timeout_s, parallel=parallel
        )
        self.insert_quorum = needed
        self._router = ShardRouter(
            shards,
            serial=needed > 1 and not parallel,
            busy_wait_s=self._quorum_timeout_s,
        )
        if needed > 1 and self._version < quorum.MUTATES_LAST_QUORUM_PART:
            self._seal = QuorumSeal(
                self._router,
                self.database,
                select_on=self._select_on,
                send=lambda replica, statement, data: self._send(
                    replica,
                    statement,
                    for_driver(data, as_bytes=self._as_bytes),
                    self._insert_settings,
                ),
            )

    def shards(self) -> list[list[tuple[str, int]]]:
        """The servers Luminate stores on, grouped by shard: the cluster's replicas, or the
        configured hosts as one shard (alternatives a connection fails over across)."""
        if self.cluster is None:
            return [list(self.hosts)]
        if self._router is None:
            with self._shard_lock:
                self._plan_inserts()
        if self._router is None:
            raise StorageError(f"cluster {self.cluster!r} is not in remote_servers")
        return [list(s.replicas) for s in self._router.shards]

    def _execute_read(
        self, client: Client, sql: str, settings: Mapping[str, SettingValue]
    ) -> list[Any]:
        """Run a read; in a cluster, wait out the moment a Distributed table is recreated (a
        dimension key getting its column recreates it on servers that cannot alter it): until
        it is, the table may be missing, or lack a column another process already reads."""
        deadline = time.monotonic() + _RECREATED_TABLE_WAIT_S
        delay = 0.02
        while True:
            try:
                return list(client.execute(sql, settings=dict(settings)))
            except errors.ServerException as exc:
                if (
                    self.cluster is None
                    or not _recreating(exc)
                    or time.monotonic() + delay > deadline
                ):
                    raise _translate(exc, sql) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
            except Exception as exc:
                raise _translate(exc, sql) from None

    def select_on(
        self, server: tuple[str, int], stmt: SystemStatement, timeout_s: float
    ) -> SelectResult:
        """One statement on one server over a monitoring connection of its own, so a probe never
        waits behind queries or inserts for a pooled connection."""
        with self._shard_lock:
            pool = self._monitor.get(server)
            if pool is None:
                pool = self._monitor[server] = queue.Queue()
                pool.put(
                    _new_client(
                        host=server[0],
                        port=server[1],
                        database="default",
                        user=self._user,
                        password=self._password,
                        connect_timeout=timeout_s,
                        send_receive_timeout=timeout_s,
                        sync_request_timeout=timeout_s,
                    )
                )
        return self._select(pool, stmt.sql, stmt.settings)

    def _replica_pool(self, replica: Replica) -> queue.Queue[Client]:
        with self._shard_lock:
            pool = self._shard_clients.get(replica)
            if pool is None:
                pool = queue.Queue()
                # One replica only: failing over belongs to the caller, within the shard.
                pool.put(self._connect([replica], self.database, {}))
                self._shard_clients[replica] = pool
            return pool

    def close(self) -> None:
        self._closed = True
        pools = [self._readers, self._writers, self._probe, self._admin]
        for pool in [*pools, *self._shard_clients.values(), *self._monitor.values()]:
            while not pool.empty():
                with contextlib.suppress(Exception):
                    pool.get_nowait().disconnect()


def parse_hosts(entries: Sequence[str], default_port: int = 9000) -> list[tuple[str, int]]:
    """`host:port` (or `host`, port 9000) entries as pairs; ValueError names a bad entry."""
    out = []
    for entry in entries:
        text = entry.strip()
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, str(default_port)
        if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise ValueError(f"bad LUMINATE_CLICKHOUSE_HOSTS entry {entry!r}; use host:port")
        out.append((host, int(port)))
    return out
