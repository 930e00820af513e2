"""The embedded engine: ClickHouse in-process through chDB, data in one directory.

One process owns the directory (an exclusive lock file says so); inside it, a small pool of
connections lets queries run in parallel while inserts use their own connection."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import queue
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec
import numpy as np

from luminate.storage.engine import Column, Runs, SelectResult
from luminate.storage.errors import StorageError, StorageUnavailable, translate
from luminate.storage.sql import (
    AnyStatement,
    SettingValue,
    SystemStatement,
    SystemTable,
    Table,
    quote,
)

_CODE = re.compile(r"Code: (\d+)")
# How long closing waits for statements still running on other threads (a retention pass's
# mutation, a probe) to finish.
CLOSE_TIMEOUT_S = 30.0
log = logging.getLogger("luminate.storage")
_encoder = msgspec.json.Encoder()


class _Compact(msgspec.Struct):
    data: list[list[object]]


_decoder = msgspec.json.Decoder(_Compact)


class _Result(Protocol):
    def bytes(self) -> bytes: ...
    def storage_rows_read(self) -> int: ...


class _Inserter(Protocol):
    def append(self, data: bytes) -> None: ...
    def finish(self) -> None: ...


class _Connection(Protocol):
    """The part of a chDB connection Luminate uses."""

    def query(self, sql: str, fmt: str) -> _Result: ...
    def send_insert(self, sql: str, fmt: str) -> _Inserter: ...
    def close(self) -> None: ...


@functools.cache
def _pyarrow() -> Any:
    """pyarrow, imported on first use (it comes with chDB); cached, because an import statement
    in a function goes through the import machinery on every call."""
    import pyarrow  # noqa: PLC0415

    return pyarrow


def arrow_stream(columns: Sequence[str], data: Sequence[Column]) -> bytes:
    """The columns as one Arrow IPC stream; a column of runs (tenant, metric) as a dictionary,
    so each of its values is sent once."""
    pa = _pyarrow()
    arrays: list[Any] = []
    seen: dict[int, Any] = {}
    for col in data:
        if id(col) in seen:
            arrays.append(seen[id(col)])  # the same column twice (a lead and its dimension)
            continue
        if isinstance(col, Runs):
            # A value may come back in a later run; a dictionary holds it once.
            unique = {v: i for i, v in enumerate(dict.fromkeys(col.values))}
            runs = np.array([unique[v] for v in col.values], dtype=np.int32)
            indices = np.repeat(runs, col.counts)
            arrays.append(pa.DictionaryArray.from_arrays(indices, pa.array(list(unique))))
        elif not len(col) or isinstance(col[0], str):
            arrays.append(pa.array(col, type=pa.string()))
        elif isinstance(col[0], list):
            arrays.append(pa.array(col, type=pa.list_(pa.string())))
        elif isinstance(col[0], float):
            arrays.append(pa.array(col, type=pa.float64()))
        else:
            arrays.append(pa.array(col, type=pa.int64()))
        seen[id(col)] = arrays[-1]
    batch = pa.RecordBatch.from_arrays(arrays, names=list(columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


def _check_links(path: Path) -> None:
    """Refuse a data directory whose tables lost their database. The engine keeps each table's
    files under `store/` and reaches them through symbolic links (`metadata/default`,
    `data/default/<table>`); a copy that dropped the links would open as a new, empty database
    while every stored point sits unreachable beside it."""
    database = path / "metadata" / "default"
    if database.exists() or database.is_symlink():
        return
    orphaned = sorted((path / "store").glob("*/*/samples.sql"))
    if orphaned:
        raise StorageUnavailable(
            f"data directory {str(path)!r} holds tables under store/ "
            f"({orphaned[0].parent.relative_to(path)}) but not the link to them "
            "(metadata/default): it looks like a copy that dropped symbolic links. Copy data "
            "directories with links kept (cp -a, rsync -a, tar) or restore a backup "
            "(luminate backup restore); opening it would start a new, empty store beside them"
        )


# One column of each kind `arrow_stream` encodes.
_WARM_COLUMNS = ("runs", "text", "texts", "real", "integer")


# Threads for merges and mutations. chDB ships 2; with that, a deletion (`ALTER ... DELETE`)
# over five or more parts waits 0.2-1 s for a free slot, against 20-30 ms with 4 or more. 16 is
# the ClickHouse server's own default; merges stay bounded by the parts there are to merge.
BACKGROUND_POOL_SIZE = 16


def _connect(path: str) -> _Connection:
    """The one place chDB is imported; tests that must not touch storage replace this."""
    import chdb  # noqa: PLC0415  (heavy import, deferred so nothing loads at import time)

    # Every connection of a process shares one engine, started with the first one's options.
    url = f"{path}?background_pool_size={BACKGROUND_POOL_SIZE}"
    conn: _Connection = chdb.connect(url)  # type: ignore[no-untyped-call]
    return conn


def _translate(exc: Exception, sql: str) -> StorageError:
    message = str(exc).strip()
    match = _CODE.search(message)
    return translate(int(match.group(1)) if match else 0, message, sql)


def _settings_clause(settings: Mapping[str, SettingValue]) -> str:
    if not settings:
        return ""
    return " SETTINGS " + ", ".join(f"{k} = {v!r}" for k, v in settings.items())


class EmbeddedEngine:
    name = "embedded"
    idempotent_inserts = True
    content_dedup = False
    min_timeout_s = 0.001

    def __init__(self, data_dir: str, *, pool_size: int = 4, writers: int = 2) -> None:
        path = Path(data_dir).resolve()
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._lock: IO[str] | None = (path / ".luminate.lock").open("a+")
        except OSError as exc:
            raise StorageUnavailable(f"data directory {str(path)!r}: {exc}") from exc
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise StorageUnavailable(
                f"data directory {str(path)!r} is in use by another process "
                "(one process owns an embedded store)"
            ) from None
        try:
            _check_links(path)
        except StorageUnavailable:
            self._lock.close()
            raise
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(str(os.getpid()))
        self._lock.flush()
        self._path = str(path)
        self._readers: queue.Queue[_Connection] = queue.Queue()
        self._writers: queue.Queue[_Connection] = queue.Queue()
        # Its own connection, so a probe never queues behind long queries.
        self._probe: queue.Queue[_Connection] = queue.Queue()
        try:
            self._probe.put(_connect(self._path))
            for _ in range(pool_size):
                self._readers.put(_connect(self._path))
            for _ in range(writers):
                self._writers.put(_connect(self._path))
        except Exception as exc:
            self._pools = [(q, q.qsize()) for q in (self._probe, self._readers, self._writers)]
            self.close(timeout_s=0)
            raise StorageUnavailable(
                f"embedded engine failed to open {str(path)!r}: {exc}"
            ) from exc
        self._pools = [(self._probe, 1), (self._readers, pool_size), (self._writers, writers)]
        self._closed = False
        # pyarrow imports most of itself (and pandas) on the first array it builds, about a
        # quarter of a second holding the interpreter: pay it here, not in the first write.
        arrow_stream(_WARM_COLUMNS, [Runs(["t"], [1]), ["v"], [["k"]], [1.0], [1]])

    @contextmanager
    def _conn(self, pool: queue.Queue[_Connection]) -> Iterator[_Connection]:
        if self._closed:
            raise StorageUnavailable("embedded engine is closed")
        conn = pool.get()
        try:
            yield conn
        except BaseException:
            # A failed statement can leave output behind that chDB would prepend to the next
            # result on this connection: never reuse it.
            conn = self._replace(conn)
            raise
        finally:
            pool.put(conn)

    def _replace(self, conn: _Connection) -> _Connection:
        """A fresh connection for a used one; if none can be opened, the old one, flushed by a
        throwaway statement."""
        try:
            fresh = _connect(self._path)
        except Exception:
            with contextlib.suppress(Exception):
                conn.query("SELECT 1", "CSV")
            return conn
        with contextlib.suppress(Exception):
            conn.close()
        return fresh

    def version(self) -> str:
        return str(self.select(SystemStatement("SELECT version()")).rows[0][0])

    def ping(self) -> None:
        with self._conn(self._probe) as conn:
            try:
                conn.query("SELECT 1", "CSV")
            except Exception as exc:
                raise _translate(exc, "SELECT 1") from None

    def execute(self, stmt: AnyStatement) -> None:
        with self._conn(self._readers) as conn:
            try:
                conn.query(stmt.sql + _settings_clause(stmt.settings), "CSV")
            except Exception as exc:
                raise _translate(exc, stmt.sql) from None

    def select(self, stmt: AnyStatement) -> SelectResult:
        with self._conn(self._readers) as conn:
            try:
                result = conn.query(stmt.sql + _settings_clause(stmt.settings), "JSONCompact")
            except Exception as exc:
                raise _translate(exc, stmt.sql) from None
            return SelectResult(
                _decoder.decode(result.bytes()).data, int(result.storage_rows_read())
            )

    def insert(
        self,
        table: Table | SystemTable,
        columns: Sequence[str],
        data: Sequence[Column],
        dedup_token: str,
    ) -> None:
        statement = (
            f"INSERT INTO {table.value} ({', '.join(columns)}) "
            f"SETTINGS insert_deduplication_token = {quote(dedup_token)}"
        )
        # Points go in as Arrow (column buffers the engine takes without parsing text); the
        # small coordination rows as JSON.
        try:
            if table is Table.SAMPLES:
                body, fmt = arrow_stream(columns, data), "ArrowStream"
            else:
                body, fmt = _encoder.encode(data), "JSONCompactColumns"
        except (UnicodeEncodeError, msgspec.EncodeError) as exc:  # a string that is not text
            raise _translate(exc, statement) from None
        with self._conn(self._writers) as conn:
            try:
                inserter = conn.send_insert(statement, fmt)
                inserter.append(body)
                inserter.finish()
            except Exception as exc:
                raise _translate(exc, statement) from None

    def shards(self) -> list[list[tuple[str, int]]]:
        return []

    def select_on(
        self, server: tuple[str, int], stmt: SystemStatement, timeout_s: float
    ) -> SelectResult:
        raise StorageError("the embedded engine has no servers to address")

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Refuses new statements, waits (up to `timeout_s`) for the ones running on other
        threads to return their connections, closes every connection and releases the
        directory. Closing the engine under a running statement crashes the process."""
        self._closed = True
        deadline = time.monotonic() + timeout_s
        for pool, size in self._pools:
            for _ in range(size):
                try:
                    conn = pool.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    log.warning("closing the embedded engine with a statement still running")
                    break
                # Closing is best effort; the lock is released next either way.
                with contextlib.suppress(Exception):
                    conn.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
