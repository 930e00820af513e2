"""The limits' side of running several processes on one storage: the membership heartbeat, the
series-count sync, the share the limiter enforces, and how all of it is reported (health
component, `luminate_limits_members`, `luminate_limits_mode`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from luminate.limits.members import Membership
from luminate.limits.series import SeriesLimiter
from luminate.limits.series_sync import SeriesSync
from luminate.limits.share import Mode, Share
from luminate.observability.metrics import Metrics
from luminate.storage.errors import StorageError
from luminate.storage.store import Storage

log = logging.getLogger("luminate.limits")

# Longest a stopping process waits to save its series counts.
_FINAL_SAVE_S = 5.0


@dataclass(frozen=True)
class LimitsStatus:
    """The health report's limits component."""

    configured: Mode
    mode: Mode
    members: int
    discovery: str
    problem: str | None

    @property
    def degraded(self) -> bool:
        """Configured global but enforcing local limits."""
        return self.configured is Mode.GLOBAL and self.mode is Mode.LOCAL


class Coordination:
    def __init__(
        self,
        store: Storage,
        series: SeriesLimiter,
        metrics: Metrics,
        *,
        mode: Mode,
        heartbeat_interval_s: float,
        heartbeat_timeout_s: float,
        sync_interval_s: float,
    ) -> None:
        embedded = store.backend == "embedded"
        self.membership = Membership(
            None if embedded else store.members,
            mode=mode,
            interval_s=heartbeat_interval_s,
            timeout_s=heartbeat_timeout_s,
            on_failure=metrics.storage_errors.labels(op="membership").inc,
        )
        self.series_sync = SeriesSync(
            series,
            store.series_states,
            member_id=self.membership.me,
            interval_s=sync_interval_s,
            share=mode is Mode.GLOBAL and not embedded,
            metrics=metrics,
        )
        self._metrics = metrics
        self._tasks: list[asyncio.Task[None]] = []

    def share(self) -> Share:
        return self.membership.share()

    def status(self) -> LimitsStatus:
        share = self.share()
        view = self.membership.view
        problem = view.problem
        if problem is None and share.mode is Mode.LOCAL and view.configured is Mode.GLOBAL:
            problem = "no member count yet"
        return LimitsStatus(
            view.configured, share.mode, share.members, self.membership.discovery, problem
        )

    def publish(self) -> None:
        """Bring the metrics in line with the share in force."""
        share = self.share()
        self._metrics.limits_members.set(share.members)
        for mode in Mode:
            self._metrics.limits_mode.labels(mode=mode.value).set(int(mode is share.mode))
        fallen_back = self.membership.view.configured is Mode.GLOBAL and share.mode is Mode.LOCAL
        self._metrics.limits_fallback.set(int(fallen_back))

    async def start(self) -> None:
        """Count the members and restore the series counts before serving, then keep both
        current in the background."""
        await self.membership.refresh()
        self.publish()
        restored = await self.series_sync.restore()
        status = self.status()
        log.info(
            "limits coordination started",
            extra={
                "mode": status.mode.value,
                "members": status.members,
                "series_snapshots_restored": restored,
                "problem": status.problem,
            },
        )
        self._tasks = [
            asyncio.create_task(self.membership.run(on_refresh=self.publish)),
            asyncio.create_task(self.series_sync.run()),
        ]

    async def close(self) -> None:
        """Stop the background work, save the series counts and leave the membership."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            saved = await asyncio.wait_for(self.series_sync.save(), _FINAL_SAVE_S)
        except (StorageError, TimeoutError) as exc:
            log.warning("limits: series counts not saved at shutdown", extra={"error": str(exc)})
        else:
            log.info("limits: series counts saved", extra={"trackers": saved})
        self.series_sync.close()
        await self.membership.leave()
