"""The heartbeat table: which Luminate processes share this storage. Each process inserts a row
every heartbeat interval and one marked `leaving` when it stops; rows of one process collapse
to its latest. Whether a process still counts is the limiter's decision (`limits/share.py`)."""

from __future__ import annotations

import uuid

import msgspec

from luminate.model.coordination import MemberBeat
from luminate.storage import shared_tables
from luminate.storage.engine import Engine
from luminate.storage.schema import Topology
from luminate.storage.sql import SystemStatement, SystemTable

_COLUMNS = "member_id String, host String, started_ms Int64, beat_ms Int64, leaving UInt8"


def create_statements(topo: Topology) -> list[str]:
    return [shared_tables.create(topo, SystemTable.MEMBERS, _COLUMNS, "beat_ms", "member_id")]


class Members:
    def __init__(self, engine: Engine, topology: Topology) -> None:
        self._engine = engine
        self._table = shared_tables.table_name(topology, SystemTable.MEMBERS)

    def beat(self, beat: MemberBeat) -> None:
        """Record `beat`; raises StorageError when storage cannot take it."""
        self._engine.insert(
            SystemTable.MEMBERS,
            ("member_id", "host", "started_ms", "beat_ms", "leaving"),
            [[beat.member_id], [beat.host], [beat.started_ms], [beat.beat_ms], [int(beat.leaving)]],
            uuid.uuid4().hex,
        )

    def latest(self, since_ms: int) -> list[MemberBeat]:
        """The latest beat of every process that beat at or after `since_ms`."""
        rows = self._engine.select(
            SystemStatement(
                "SELECT member_id, argMax(host, beat_ms), argMax(started_ms, beat_ms), "
                f"max(beat_ms), argMax(leaving, beat_ms) FROM {self._table} "
                f"WHERE beat_ms >= {int(since_ms)} GROUP BY member_id ORDER BY member_id"
            )
        ).rows
        return [
            MemberBeat(m, h, s, b, bool(left))
            for m, h, s, b, left in msgspec.convert(rows, list[tuple[str, str, int, int, int]])
        ]

    def forget_before(self, before_ms: int) -> bool:
        """Delete heartbeats older than `before_ms` (processes long gone); True when there
        were any. The check first keeps an idle table from getting a mutation each time."""
        where = f"beat_ms < {int(before_ms)}"
        old = self._engine.select(
            SystemStatement(f"SELECT count() FROM {self._table} WHERE {where}")
        )
        if not int(str(old.rows[0][0])):
            return False
        self._engine.execute(SystemStatement(f"ALTER TABLE {self._table} DELETE WHERE {where}"))
        return True
