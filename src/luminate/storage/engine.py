"""The driver seam: the few calls a storage engine must answer. Everything above it speaks only
these; everything below it (chDB, a ClickHouse driver) stays inside `storage/`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

SettingValue = int | float | str


@dataclass(frozen=True)
class SelectResult:
    rows: list[list[Any]]
    rows_read: int


class Engine(Protocol):
    """A connection to one ClickHouse engine.

    Contract: `insert` returns only once the rows are durable in the engine (a crash of this
    process afterwards loses nothing) and inserts all rows or raises; inserts may run
    concurrently. Inserts carrying the same `dedup_token` store their rows once (a retry never
    duplicates); inserts with different tokens each store their rows. `select` honours
    `max_execution_time` by cancelling the statement in the engine and raising `StorageTimeout`.
    Every failure is raised as a `luminate.storage.errors.StorageError` subclass, never as a
    driver exception.
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

    def execute(self, sql: str, settings: Mapping[str, SettingValue] | None = None) -> None: ...

    def select(
        self, sql: str, settings: Mapping[str, SettingValue] | None = None
    ) -> SelectResult: ...

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        data: Sequence[Sequence[Any]],
        dedup_token: str,
    ) -> None: ...

    def close(self) -> None: ...
