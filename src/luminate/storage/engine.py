"""The driver seam: the few calls a storage engine must answer. Everything above it speaks only
these; everything below it (chDB, a ClickHouse driver) stays inside `storage/`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from luminate.storage.sql import AnyStatement, SystemStatement, SystemTable, Table


@dataclass(frozen=True)
class Runs:
    """A column of few distinct values in long runs (tenant, metric): `values[i]` repeated
    `counts[i]` times, so an engine can send each value once."""

    values: list[str]
    counts: list[int]

    def expand(self) -> list[str]:
        out: list[str] = []
        for v, n in zip(self.values, self.counts, strict=True):
            out += [v] * n
        return out


# An insert column, as the drivers take them.
Column = Sequence[str] | Sequence[int] | Sequence[float] | Sequence[list[str]] | Runs


@dataclass(frozen=True)
class SelectResult:
    """Rows as the driver handed them over (callers convert them to typed values with
    `msgspec.convert`), and how many stored rows the engine read to answer."""

    rows: list[list[object]]
    rows_read: int


class Engine(Protocol):
    """A connection to one ClickHouse engine.

    Contract: `insert` returns only once the rows are durable in the engine (a crash of this
    process afterwards loses nothing) and inserts all rows or raises; inserts may run
    concurrently. Inserts carrying the same `dedup_token` store their rows once (a retry never
    duplicates); inserts with different tokens each store their rows. `select` honours
    `max_execution_time` by cancelling the statement in the engine and raising `StorageTimeout`.
    `execute` and `select` take only checked statement types (the tenant failsafe), never raw
    SQL. Every failure is raised as a `luminate.storage.errors.StorageError` subclass (through
    `storage.errors.translate`), never as a driver exception.
    """

    name: str
    # Whether inserts carrying the same token store their rows once, so they may be retried.
    idempotent_inserts: bool
    # Whether identical inserts are stored once even with different tokens (replicated tables
    # on servers without insert tokens deduplicate by content).
    content_dedup: bool
    # The smallest statement timeout the engine enforces (older servers count whole seconds).
    min_timeout_s: float

    def version(self) -> str: ...

    def ping(self) -> None:
        """Answers quickly even while every query slot is busy (readiness depends on it)."""

    def execute(self, stmt: AnyStatement) -> None: ...

    def select(self, stmt: AnyStatement) -> SelectResult: ...

    def insert(
        self,
        table: Table | SystemTable,
        columns: Sequence[str],
        data: Sequence[Column],
        dedup_token: str,
    ) -> None: ...

    def shards(self) -> list[list[tuple[str, int]]]:
        """The servers data lives on, grouped by shard (`host`, `port`); empty for an engine
        inside this process."""

    def select_on(
        self, server: tuple[str, int], stmt: SystemStatement, timeout_s: float
    ) -> SelectResult:
        """`stmt` on one of `shards()`' servers, on a connection of its own (monitoring)."""

    def close(self) -> None: ...
