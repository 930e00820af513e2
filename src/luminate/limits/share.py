"""How configured limits compose with replicas, as arithmetic: which processes count as live, and
what share of each limit one process enforces.

In `global` mode a process divides each rate and the concurrent-query slots by the number of
live processes sharing the storage (Grafana Mimir's "global" ingestion-rate strategy), so a tenant
spread evenly over N processes gets the configured total. When a process cannot tell how many
share the storage, it enforces the full limits itself (`local`), as Mimir does with an empty
ring: never stricter than configured, and said so in health and metrics."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from luminate.model.coordination import MemberBeat


class Mode(StrEnum):
    GLOBAL = "global"
    LOCAL = "local"


@dataclass(frozen=True)
class Share:
    """What this process enforces: `mode` in force and the number of processes the limits are
    divided among (1 in local mode)."""

    mode: Mode
    members: int = 1

    def rate(self, configured: float) -> float:
        return configured / self.members if self.mode is Mode.GLOBAL else configured

    def slots(self, configured: int) -> int:
        """Concurrent slots: rounded up, so a tenant always has at least one per process (the
        total may then exceed the configured number by fewer than `members`)."""
        if self.mode is Mode.LOCAL:
            return configured
        return max(1, math.ceil(configured / self.members))

    @property
    def divided(self) -> bool:
        return self.mode is Mode.GLOBAL and self.members > 1


LOCAL = Share(Mode.LOCAL)


def live_members(beats: Iterable[MemberBeat], me: str, now_ms: int, timeout_ms: int) -> int:
    """How many processes count: those whose latest beat is younger than `timeout_ms` and that
    did not announce leaving, always including this one (`me`), whose own beat may not have
    reached the replica that answered yet."""
    live = {b.member_id for b in beats if not b.leaving and now_ms - b.beat_ms < timeout_ms}
    live.add(me)
    return len(live)


@dataclass
class MemberView:
    """This process's view of the membership over time: the last count read from storage, kept
    while it is younger than the heartbeat timeout (one failed heartbeat does not change the
    limits), then dropped for local limits until a heartbeat succeeds again."""

    configured: Mode
    timeout_s: float
    members: int = 0
    refreshed_at: float | None = None  # monotonic seconds of the last successful refresh
    problem: str | None = None  # why the last refresh failed, if it did

    def observed(self, members: int, now: float) -> None:
        self.members = members
        self.refreshed_at = now
        self.problem = None

    def failed(self, problem: str) -> None:
        self.problem = problem

    def share(self, now: float) -> Share:
        if self.configured is Mode.LOCAL or not self.current(now):
            return LOCAL
        return Share(Mode.GLOBAL, self.members)

    def current(self, now: float) -> bool:
        """Whether the last count is recent enough to divide limits by."""
        return self.refreshed_at is not None and now - self.refreshed_at < self.timeout_s
