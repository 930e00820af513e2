"""Snapshots of the tenants' series trackers, one row per (window, tenant, process), rewritten
when the tracker changed. A process merges the rows of the others and, at start, all rows of
the current window (`limits/series_sync.py`).

The table carries tenant ids but no points, and only the limiter reads it, across tenants in
one statement: its rows are never answered to a client. Snapshots are stored as base64 text,
which both engines' insert paths carry unchanged."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence

import msgspec

from luminate.model.coordination import SeriesState
from luminate.storage import shared_tables
from luminate.storage.engine import Engine
from luminate.storage.schema import Topology
from luminate.storage.sql import SystemStatement, SystemTable, quote

_COLUMNS = (
    "window_start_ms Int64, tenant_id String, member_id String, updated_ms Int64, state String"
)


def create_statements(topo: Topology) -> list[str]:
    return [
        shared_tables.create(
            topo,
            SystemTable.SERIES_STATE,
            _COLUMNS,
            "updated_ms",
            "window_start_ms, tenant_id, member_id",
        )
    ]


class SeriesStates:
    def __init__(self, engine: Engine, topology: Topology) -> None:
        self._engine = engine
        self._table = shared_tables.table_name(topology, SystemTable.SERIES_STATE)

    def save(self, states: Sequence[SeriesState]) -> None:
        """Store the snapshots in one insert, or raise StorageError."""
        if not states:
            return
        self._engine.insert(
            SystemTable.SERIES_STATE,
            ("window_start_ms", "tenant_id", "member_id", "updated_ms", "state"),
            [
                [s.window_start_ms for s in states],
                [s.tenant for s in states],
                [s.member_id for s in states],
                [s.updated_ms for s in states],
                [base64.b64encode(s.state).decode("ascii") for s in states],
            ],
            uuid.uuid4().hex,
        )

    def load(
        self, window_start_ms: int, *, since_ms: int | None = None, exclude_member: str = ""
    ) -> list[SeriesState]:
        """The latest snapshot of each (tenant, process) in the window; only those updated
        after `since_ms`, and none of `exclude_member`, when given."""
        where = f"window_start_ms = {int(window_start_ms)}"
        if exclude_member:
            where += f" AND member_id != {quote(exclude_member)}"
        if since_ms is not None:
            # In WHERE, not HAVING: only recent rows are read, and a (tenant, process) with any
            # row after `since_ms` has its newest among them.
            where += f" AND updated_ms > {int(since_ms)}"
        rows = self._engine.select(
            SystemStatement(
                "SELECT tenant_id, member_id, max(updated_ms), argMax(state, updated_ms) "
                f"FROM {self._table} WHERE {where} GROUP BY tenant_id, member_id"
            )
        ).rows
        out = []
        for tenant, member, updated, text in msgspec.convert(rows, list[tuple[str, str, int, str]]):
            try:
                state = base64.b64decode(text, validate=True)
            except binascii.Error:
                state = b""  # not a snapshot: the reader skips it, as any unreadable one
            out.append(SeriesState(tenant, member, int(window_start_ms), updated, state))
        return out

    def forget_before(self, window_start_ms: int) -> bool:
        """Delete the snapshots of windows before `window_start_ms`; True when there were any."""
        where = f"window_start_ms < {int(window_start_ms)}"
        old = self._engine.select(
            SystemStatement(f"SELECT count() FROM {self._table} WHERE {where}")
        )
        if not int(str(old.rows[0][0])):
            return False
        self._engine.execute(SystemStatement(f"ALTER TABLE {self._table} DELETE WHERE {where}"))
        return True
