"""The write path: validate a tenant's body point by point, hand the good points to group
commit, answer 200 / 207 / 400 once they are stored."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from luminate.errors import BadRequest, ErrorCode, ServiceUnavailable
from luminate.ingest.batcher import Batcher
from luminate.ingest.points import PointErrorCode, PointValidator, RejectedPoint, Validated
from luminate.limits.config import TenantLimits, source
from luminate.limits.limiter import Limiter
from luminate.observability.metrics import Metrics
from luminate.storage.errors import StorageError
from luminate.timestamps import now_ms


class WriteResult(msgspec.Struct):
    accepted: int
    rejected: int
    errors: list[RejectedPoint]


@dataclass
class WriteService:
    validator: PointValidator
    batcher: Batcher
    metrics: Metrics
    limiter: Limiter

    async def write(
        self, tenant: str, body: bytes, limits: TenantLimits
    ) -> tuple[int, WriteResult]:
        """(HTTP status, result). Raises for a body that is unusable as a whole, and 429 when
        the tenant is over its points rate (nothing of the request is stored then)."""
        try:
            checked = self.validator.decode(body, tenant, now_ms())
        except BadRequest as exc:
            self.metrics.rejected.labels(reason=exc.code.value).inc()
            raise
        if checked.points:
            self.limiter.points(tenant, limits, len(checked.points))
            self._limit_series(checked, limits)
        for reason, n in checked.reasons.items():
            self.metrics.rejected.labels(reason=reason).inc(n)
        accepted = len(checked.points)
        result = WriteResult(accepted, checked.rejected_count, checked.rejected)
        if accepted == 0:
            if checked.rejected_count == 0:
                raise BadRequest("body holds no points", code=ErrorCode.INVALID_BODY)
            return 400, result
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
        return (200 if checked.rejected_count == 0 else 207), result

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
