"""The write path: validate a tenant's body point by point, hand the good points to group
commit, answer 200 / 207 / 400 once they are stored."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from luminate.errors import BadRequest, ErrorCode, ServiceUnavailable
from luminate.ingest.batcher import Batcher
from luminate.ingest.points import PointValidator, RejectedPoint
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

    async def write(self, tenant: str, body: bytes) -> tuple[int, WriteResult]:
        """(HTTP status, result). Raises for a body that is unusable as a whole."""
        try:
            checked = self.validator.decode(body, tenant, now_ms())
        except BadRequest as exc:
            self.metrics.rejected.labels(reason=exc.code.value).inc()
            raise
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
