"""The backup's statements, as the storage engines take them: every tenant's rows at once is what
a backup, a restore and their checks work on, so each statement is a `MaintenanceStatement`
(never built from a request; see storage/sql.py)."""

from __future__ import annotations

from collections.abc import Callable

from luminate.storage.engine import Engine
from luminate.storage.sql import MaintenanceStatement

PURPOSE = "backup"


def run(engine: Engine, sql: str) -> None:
    engine.execute(MaintenanceStatement(sql, PURPOSE))


def rows(engine: Engine, sql: str) -> list[list[object]]:
    return engine.select(MaintenanceStatement(sql, PURPOSE)).rows


def runner(engine: Engine) -> Callable[[str], None]:
    return lambda sql: run(engine, sql)


def selector(engine: Engine) -> Callable[[str], list[list[object]]]:
    return lambda sql: rows(engine, sql)
