"""Admin operations (retention, deletion) and the maintenance loop that enforces retention."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from luminate.errors import BadRequest, ErrorCode
from luminate.query.request import check_metric_name
from luminate.storage.calls import StorageCalls
from luminate.storage.store import Storage
from luminate.timestamps import now_ms

log = logging.getLogger("luminate.admin")

MAX_RETENTION_DAYS = 3650
_DAY_MS = 86_400_000
ADMIN_TIMEOUT_S = 300.0


class RetentionIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    days: int
    metric_name: str | None = None


_retention = msgspec.json.Decoder(RetentionIn)


@dataclass
class AdminService:
    storage: Storage
    calls: StorageCalls

    async def set_retention(self, tenant: str, body: bytes) -> dict[str, Any]:
        try:
            req = _retention.decode(body)
        except msgspec.ValidationError as exc:
            code = (
                ErrorCode.MISSING_FIELD
                if "missing required" in str(exc)
                else (ErrorCode.INVALID_BODY)
            )
            raise BadRequest(f"invalid retention request: {exc}", code=code) from None
        except msgspec.DecodeError as exc:
            raise BadRequest(
                f"body is not valid JSON: {exc}", code=ErrorCode.MALFORMED_JSON
            ) from None
        except RecursionError:
            raise BadRequest("body is nested too deeply", code=ErrorCode.INVALID_BODY) from None
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"body is not valid UTF-8: {exc}", code=ErrorCode.MALFORMED_JSON
            ) from None
        if not 1 <= req.days <= MAX_RETENTION_DAYS:
            raise BadRequest(
                f"days must be between 1 and {MAX_RETENTION_DAYS}",
                code=ErrorCode.INVALID_PARAMETER,
            )
        metric = check_metric_name(req.metric_name) if req.metric_name is not None else None
        await self.calls.run("admin", self.storage.set_retention, tenant, metric, req.days)
        await self.apply_retention(tenant)
        return {"tenantId": tenant, "metricName": metric, "days": req.days, "applied": True}

    async def retention(self, tenant: str) -> dict[str, Any]:
        policies = await self.calls.run("admin", self.storage.retention_policies, tenant)
        return {
            "tenantId": tenant,
            "policies": [{"metricName": p.metric, "days": p.days} for p in policies],
        }

    async def delete(self, tenant: str, metric: str, before_ms: int) -> dict[str, Any]:
        await self.calls.run(
            "admin",
            self.storage.delete_before,
            tenant,
            metric,
            before_ms,
            timeout_s=ADMIN_TIMEOUT_S,
        )
        return {"tenantId": tenant, "metricName": metric, "deletedBefore": before_ms}

    async def apply_retention(self, tenant: str) -> None:
        """Delete what the tenant's policies no longer keep. A metric's own policy wins over
        the tenant-wide one."""
        policies = await self.calls.run("admin", self.storage.retention_policies, tenant)
        now = now_ms()
        specific = [p.metric for p in policies if p.metric is not None]
        for p in policies:
            cutoff = now - p.days * _DAY_MS
            if p.metric is None:
                await self.calls.run(
                    "admin",
                    self.storage.delete_before,
                    tenant,
                    None,
                    cutoff,
                    specific,
                    timeout_s=ADMIN_TIMEOUT_S,
                )
            else:
                await self.calls.run(
                    "admin",
                    self.storage.delete_before,
                    tenant,
                    p.metric,
                    cutoff,
                    timeout_s=ADMIN_TIMEOUT_S,
                )

    async def maintain(self, interval_s: float) -> None:
        """Runs until cancelled: applies every tenant's retention each interval."""
        while True:
            try:
                tenants = await self.calls.run("admin", self.storage.tenants_with_retention)
                for tenant in tenants:
                    await self.apply_retention(tenant)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention pass failed")
            await asyncio.sleep(interval_s)
