"""Which Luminate processes share the storage: each process records a heartbeat in the storage
every interval (with jitter, so a fleet started together does not beat in step) and counts the
processes whose heartbeat is recent. ClickHouse is what every process already shares, so no
other coordination service (or Kubernetes API access) is needed, and the count is the same
wherever Luminate runs. An embedded store has one process by construction (it locks its data
directory), so there is nothing to discover there."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from luminate.limits.share import MemberView, Mode, Share, live_members
from luminate.model.coordination import MemberBeat
from luminate.model.time import now_ms
from luminate.storage.errors import StorageError
from luminate.storage.membership import Members

log = logging.getLogger("luminate.limits")

JITTER = 0.2
# Heartbeat rows of processes gone this long are deleted (checked about once an hour).
_FORGET_AFTER_MS = 86_400_000
_FORGET_EVERY_S = 3600.0


def member_id() -> str:
    """A name for this process, unique per start: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def jittered(interval_s: float, rng: random.Random | None = None) -> float:
    return interval_s * (rng or _rng).uniform(1 - JITTER, 1 + JITTER)


_rng = random.Random()  # noqa: S311  (spreads heartbeats in time; nothing secret depends on it)


class Membership:
    """This process's heartbeat and its count of live processes.

    `members` is None for an embedded store: one process, always global, never refreshed."""

    def __init__(
        self,
        members: Members | None,
        *,
        mode: Mode,
        interval_s: float,
        timeout_s: float,
        me: str | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self._members = members
        self._on_failure = on_failure
        self.me = me or member_id()
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.view = MemberView(mode, timeout_s)
        self._started_ms = now_ms()
        self._pending: asyncio.Future[int] | None = None
        self._forgotten_at = 0.0
        # A thread of its own: a heartbeat must not queue behind inserts and queries for a
        # worker thread, or a busy process would drop out of the count when it is busiest.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="luminate-heartbeat")
        if members is None:
            self.view.observed(1, time.monotonic())

    @property
    def discovery(self) -> str:
        if self._members is None:
            return "embedded: one process owns the data directory"
        return "heartbeats in the storage"

    def share(self) -> Share:
        if self._members is None:
            return (
                Share(Mode.GLOBAL, 1) if self.view.configured is Mode.GLOBAL else Share(Mode.LOCAL)
            )
        return self.view.share(time.monotonic())

    async def refresh(self) -> None:
        """Beat and count once. A failure (or no answer within the timeout) is recorded in the
        view; the process falls back to local limits once its count is too old."""
        if self._members is None:
            return
        if self._pending is None or self._pending.done():
            # A call still running from last time is waited for, never doubled.
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(self._thread, self._beat_and_count)
        try:
            members = await asyncio.wait_for(asyncio.shield(self._pending), self.timeout_s)
        except TimeoutError:
            self._failed(f"the heartbeat table did not answer within {self.timeout_s:g} s")
            return
        except StorageError as exc:
            self._failed(f"the heartbeat table could not be used: {exc}")
            return
        if self.view.problem is not None or self.view.refreshed_at is None:
            log.info("limits: member count known again", extra={"members": members})
        self.view.observed(members, time.monotonic())

    def _failed(self, problem: str) -> None:
        if self._on_failure is not None:
            self._on_failure()
        if self.view.problem is None:
            log.warning("limits: heartbeat failed", extra={"error": problem})
        self.view.failed(problem)

    def _beat_and_count(self) -> int:
        assert self._members is not None
        now = now_ms()
        self._members.beat(MemberBeat(self.me, socket.gethostname(), self._started_ms, now))
        timeout_ms = int(self.timeout_s * 1000)
        beats = self._members.latest(now - 2 * timeout_ms)
        if time.monotonic() - self._forgotten_at > _FORGET_EVERY_S:
            self._forgotten_at = time.monotonic()
            # Housekeeping only: a failure here must not fail the heartbeat.
            with contextlib.suppress(StorageError):
                self._members.forget_before(now - max(_FORGET_AFTER_MS, 10 * timeout_ms))
        return live_members(beats, self.me, now_ms(), timeout_ms)

    async def run(self, on_refresh: Callable[[], None] | None = None) -> None:
        """Refresh forever, every interval with jitter; `on_refresh()` after each attempt."""
        while True:
            await asyncio.sleep(jittered(self.interval_s))
            await self.refresh()
            if on_refresh is not None:
                on_refresh()

    async def leave(self) -> None:
        """Tell the others this process stops, so they take over its share at once instead of
        after the timeout. Best effort, bounded by the interval."""
        if self._members is None:
            return
        members = self._members
        beat = MemberBeat(self.me, socket.gethostname(), self._started_ms, now_ms(), leaving=True)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(StorageError, TimeoutError):
            await asyncio.wait_for(
                loop.run_in_executor(self._thread, members.beat, beat), self.interval_s
            )
        self._thread.shutdown(wait=False)
