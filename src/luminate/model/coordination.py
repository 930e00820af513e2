"""What the Luminate processes sharing one storage tell each other: that they are alive
(heartbeats), and what series each tenant has written (opaque snapshots of series trackers)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemberBeat:
    """The latest heartbeat of one process. Times are epoch milliseconds of the writer's clock."""

    member_id: str
    host: str
    started_ms: int
    beat_ms: int
    leaving: bool = False


@dataclass(frozen=True)
class SeriesState:
    """One process's snapshot of one tenant's series tracker for the window starting at
    `window_start_ms` (epoch milliseconds)."""

    tenant: str
    member_id: str
    window_start_ms: int
    updated_ms: int
    state: bytes
