"""The write path: apply the tenant's limits to validated points, hand the good points to group
commit, and report what was stored once it is durable. Every way in (JSON, remote_write, OTLP)
decodes and validates into `Validated` and calls `write`."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from luminate.ingest.batcher import Batcher
from luminate.ingest.idempotency import RecentWrites
from luminate.limits.config import TenantLimits, source
from luminate.limits.limiter import Limiter
from luminate.model.errors import BadRequest, ErrorCode, ServiceUnavailable
from luminate.model.points import PointErrorCode, Validated, WriteOutcome
from luminate.observability.metrics import Metrics
from luminate.storage.errors import StorageError


@dataclass
class WriteService:
    batcher: Batcher
    metrics: Metrics
    limiter: Limiter
    recent: RecentWrites = field(default_factory=lambda: RecentWrites(0))

    def arriving(self) -> AbstractContextManager[None]:
        """Announce a write on its way to `write` (see `Batcher.arriving`)."""
        return self.batcher.arriving()

    def refused_body(self, code: ErrorCode) -> None:
        """Count a request refused as a whole while decoding (once, under its code)."""
        self.metrics.rejected.labels(reason=code.value).inc()

    async def write(
        self, tenant: str, checked: Validated, limits: TenantLimits, key: bytes | None = None
    ) -> WriteOutcome:
        """Store the accepted points of `checked`; returns once they are durable. Raises 429 when
        the tenant is over its points rate and 503 when storage fails (nothing of the request is
        stored then), and BadRequest for a request without any point. Points refused by a series
        limit join the rejected ones.

        `key` identifies the request (ingest/idempotency.py): a request identical to one stored
        within the dedup window is answered as stored without storing anything again, and one
        identical to a write still in flight waits for that one's outcome."""
        recent = self.recent
        if key is None or not recent.enabled or not checked.points:
            return await self._write(tenant, checked, limits)
        while (pending := recent.inflight(key)) is not None:
            # That write may sit in the insert being gathered, which must not wait for this one.
            self.batcher.withdraw()
            await asyncio.shield(pending)
        if recent.stored(key):
            self.metrics.duplicates.inc()
            return WriteOutcome(len(checked.points), checked.rejected_count, checked.rejected)
        recent.begin(key)
        checked.points.request_key = key
        stored = False
        try:
            outcome = await self._write(tenant, checked, limits)
            stored = outcome.accepted > 0
            return outcome
        finally:
            recent.end(key, stored)

    async def _write(self, tenant: str, checked: Validated, limits: TenantLimits) -> WriteOutcome:
        if checked.points:
            self.limiter.points(tenant, limits, len(checked.points))
            self._limit_series(checked, limits)
        for reason, n in checked.reasons.items():
            self.metrics.rejected.labels(reason=reason).inc(n)
        accepted = len(checked.points)
        outcome = WriteOutcome(accepted, checked.rejected_count, checked.rejected)
        if accepted == 0:
            if checked.rejected_count == 0:
                raise BadRequest("body holds no points", code=ErrorCode.INVALID_BODY)
            return outcome
        try:
            await self.batcher.submit(checked.points)
        except StorageError as exc:
            self.metrics.storage_errors.labels(op="write").inc()
            raise ServiceUnavailable(
                f"storage did not accept the write; nothing of this request was acknowledged: "
                f"{exc}",
                retry_after_s=1,
            ) from None
        except RuntimeError:
            raise ServiceUnavailable(
                "server is shutting down; nothing of this request was acknowledged",
                retry_after_s=1,
            ) from None
        self.metrics.ingested.inc(accepted)
        return outcome

    def _limit_series(self, checked: Validated, limits: TenantLimits) -> None:
        admission = self.limiter.admit_series(checked.points, limits)
        if not admission.refused:
            return
        refused = []
        for pos, limit in admission.refused:
            if limit == "max_series":
                refused.append(
                    (
                        pos,
                        PointErrorCode.SERIES_LIMIT_EXCEEDED,
                        f"new series refused: the tenant has about {admission.estimate} active "
                        f"series, its limit is {limits.max_series} ({source('max_series')}); "
                        "points of existing series are still accepted",
                    )
                )
            else:
                refused.append(
                    (
                        pos,
                        PointErrorCode.METRIC_SERIES_LIMIT_EXCEEDED,
                        f"new series refused: metric {checked.points.names[pos]!r} is at its "
                        f"limit of {limits.max_series_per_metric} series "
                        f"({source('max_series_per_metric')}); points of existing series are "
                        "still accepted",
                    )
                )
        checked.refuse(refused)
