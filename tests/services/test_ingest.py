"""The write path below HTTP: validated points go through the tenant's limits and group commit
into the embedded engine. A write returns once its points are stored; refused points are
reported by index and code and counted by reason; nothing of a request refused as a whole, or
of a failed insert, is stored or acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from luminate.ingest.batcher import Batcher
from luminate.ingest.idempotency import RecentWrites
from luminate.ingest.service import WriteService
from luminate.ingest.validate import PointValidator
from luminate.limits.config import LimitsTable, TenantLimits
from luminate.limits.limiter import Limiter
from luminate.model.errors import BadRequest, ErrorCode, ServiceUnavailable, TooManyRequests
from luminate.model.points import PointErrorCode, TenantPoints, Validated
from luminate.observability.metrics import Metrics
from luminate.settings import load_settings
from luminate.storage.store import Storage
from tests.support.clock import now_ms
from tests.support.samples import sample
from tests.support.stored import stored_count

pytestmark = pytest.mark.anyio

DAY_MS = 86_400_000
DEFAULTS = TenantLimits.from_settings(load_settings({}))


@dataclass(frozen=True)
class Point:
    """A point as a decoder hands it to the validator."""

    name: str
    timestamp: int | str
    value: float
    dimensions: dict[str, str]


def point(
    name: str = "svc_probe",
    value: float = 1.0,
    timestamp: int | str | None = None,
    dimensions: dict[str, str] | None = None,
) -> Point:
    """A valid point one second old, unless told otherwise."""
    return Point(
        name,
        now_ms() - 1000 if timestamp is None else timestamp,
        value,
        {"host": "h1"} if dimensions is None else dimensions,
    )


@pytest.fixture
def validator() -> PointValidator:
    return PointValidator(max_age_ms=7 * DAY_MS, max_future_ms=3_600_000, max_points=1000)


def validated(validator: PointValidator, tenant: str, *points: Point) -> Validated:
    """What a decoder builds: every point checked on its own, in order."""
    out = Validated(TenantPoints(tenant))
    for i, p in enumerate(points):
        validator.check(out, i, p, now_ms())
    return out


@dataclass
class Ingest:
    service: WriteService
    batcher: Batcher
    metrics: Metrics


@pytest.fixture
async def ingest(storage: Storage, metrics: Metrics) -> AsyncIterator[Ingest]:
    """A write service over a running batcher that inserts into the embedded engine."""
    batcher = Batcher(
        storage.write, max_points=10_000, max_delay_s=0.005, on_batch=metrics.batch_written
    )
    limiter = Limiter(LimitsTable(DEFAULTS), metrics, series_window_s=3600)
    batcher.start()
    try:
        yield Ingest(WriteService(batcher, metrics, limiter), batcher, metrics)
    finally:
        await batcher.close()


async def test_accepted_points_are_stored_when_the_write_returns(
    ingest: Ingest, validator: PointValidator, storage: Storage, tenant: str
) -> None:
    checked = validated(validator, tenant, *(point(value=float(i)) for i in range(5)))
    outcome = await ingest.service.write(tenant, checked, DEFAULTS)
    assert (outcome.accepted, outcome.rejected, outcome.errors) == (5, 0, [])
    assert stored_count(storage, tenant, "svc_probe") == 5
    assert sample(ingest.metrics.registry, "luminate_metrics_ingested_total") == 5


async def test_concurrent_writes_share_inserts_and_each_is_stored(
    ingest: Ingest, validator: PointValidator, storage: Storage, tenant: str
) -> None:
    writes = [
        ingest.service.write(tenant, validated(validator, tenant, point(value=float(i))), DEFAULTS)
        for i in range(8)
    ]
    outcomes = await asyncio.gather(*writes)
    assert [o.accepted for o in outcomes] == [1] * 8
    assert stored_count(storage, tenant, "svc_probe") == 8
    inserts = sample(ingest.metrics.registry, "luminate_write_batch_size_count")
    assert 1 <= inserts < 8
    assert sample(ingest.metrics.registry, "luminate_write_batch_size_sum") == 8


async def test_bad_points_are_reported_by_index_and_only_good_ones_stored(
    ingest: Ingest, validator: PointValidator, storage: Storage, tenant: str
) -> None:
    checked = validated(
        validator,
        tenant,
        point(value=1.0),
        point(name="9bad"),
        point(value=2.0),
        point(timestamp=now_ms() - 8 * DAY_MS),
        point(dimensions={"host": ""}),
        point(value=float("inf")),
        point(timestamp="not a time"),
    )
    outcome = await ingest.service.write(tenant, checked, DEFAULTS)
    assert (outcome.accepted, outcome.rejected) == (2, 5)
    assert [(e.index, e.error.code) for e in outcome.errors] == [
        (1, PointErrorCode.INVALID_METRIC_NAME),
        (3, PointErrorCode.TIMESTAMP_TOO_OLD),
        (4, PointErrorCode.INVALID_DIMENSION_VALUE),
        (5, PointErrorCode.NON_FINITE_VALUE),
        (6, PointErrorCode.INVALID_TIMESTAMP),
    ]
    assert all(e.error.message for e in outcome.errors)
    assert stored_count(storage, tenant, "svc_probe") == 2
    for reason in ("invalid_metric_name", "timestamp_too_old", "non_finite_value"):
        assert sample(ingest.metrics.registry, "luminate_metrics_rejected_total", reason=reason)


async def test_a_write_whose_every_point_is_refused_stores_nothing(
    ingest: Ingest, validator: PointValidator, storage: Storage, tenant: str
) -> None:
    checked = validated(validator, tenant, point(name="9bad"), point(name="also bad"))
    outcome = await ingest.service.write(tenant, checked, DEFAULTS)
    assert (outcome.accepted, outcome.rejected) == (0, 2)
    assert stored_count(storage, tenant, "svc_probe") == 0
    assert sample(ingest.metrics.registry, "luminate_metrics_ingested_total") == 0


async def test_a_write_without_points_is_a_bad_request(ingest: Ingest, tenant: str) -> None:
    with pytest.raises(BadRequest) as refused:
        await ingest.service.write(tenant, Validated(TenantPoints(tenant)), DEFAULTS)
    assert refused.value.code is ErrorCode.INVALID_BODY


async def test_a_tenant_over_its_points_rate_gets_429_and_nothing_is_stored(
    ingest: Ingest, validator: PointValidator, storage: Storage, tenant: str
) -> None:
    limits = replace(DEFAULTS, metrics_per_sec=10, burst_seconds=1)
    first = validated(validator, tenant, *(point(value=float(i)) for i in range(10)))
    assert (await ingest.service.write(tenant, first, limits)).accepted == 10
    more = validated(validator, tenant, point(value=99.0))
    with pytest.raises(TooManyRequests) as refused:
        await ingest.service.write(tenant, more, limits)
    assert refused.value.code is ErrorCode.RATE_LIMITED
    assert refused.value.details["limit"] == "metrics_per_sec"
    assert stored_count(storage, tenant, "svc_probe") == 10


async def test_new_series_past_the_limit_are_refused_and_known_ones_accepted(
    ingest: Ingest, validator: PointValidator, storage: Storage, tenant: str
) -> None:
    limits = replace(DEFAULTS, max_series=3)

    def users(*ids: int) -> Validated:
        return validated(validator, tenant, *(point(dimensions={"user": f"u{i}"}) for i in ids))

    assert (await ingest.service.write(tenant, users(0, 1, 2), limits)).accepted == 3
    outcome = await ingest.service.write(tenant, users(2, 3, 0, 4), limits)
    assert (outcome.accepted, outcome.rejected) == (2, 2)
    assert [(e.index, e.error.code) for e in outcome.errors] == [
        (1, PointErrorCode.SERIES_LIMIT_EXCEEDED),
        (3, PointErrorCode.SERIES_LIMIT_EXCEEDED),
    ]
    assert "LUMINATE_CARDINALITY_MAX_SERIES" in outcome.errors[0].error.message
    assert stored_count(storage, tenant, "svc_probe") == 5


async def test_a_failed_insert_is_a_503_and_acknowledges_nothing(
    ingest: Ingest, validator: PointValidator, storage: Storage
) -> None:
    """Storage refuses a batch without a tenant; the write service answers 503 and the batcher
    keeps serving the next request."""
    checked = validated(validator, "", point())
    with pytest.raises(ServiceUnavailable) as refused:
        await ingest.service.write("", checked, DEFAULTS)
    assert refused.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert "nothing of this request was acknowledged" in refused.value.message
    assert sample(ingest.metrics.registry, "luminate_storage_errors_total", op="write") == 1
    assert sample(ingest.metrics.registry, "luminate_metrics_ingested_total") == 0
    assert ingest.batcher.last_error is not None
    good = validated(validator, "svc-after-failure", point())
    assert (await ingest.service.write("svc-after-failure", good, DEFAULTS)).accepted == 1


async def test_a_write_after_shutdown_is_a_503(
    ingest: Ingest, validator: PointValidator, storage: Storage, tenant: str
) -> None:
    await ingest.batcher.close()
    with pytest.raises(ServiceUnavailable) as refused:
        await ingest.service.write(tenant, validated(validator, tenant, point()), DEFAULTS)
    assert "shutting down" in refused.value.message
    assert stored_count(storage, tenant, "svc_probe") == 0


def test_the_validator_refuses_a_request_over_the_points_limit(
    validator: PointValidator,
) -> None:
    validator.check_count(1000)
    with pytest.raises(BadRequest) as refused:
        validator.check_count(1001)
    assert refused.value.code is ErrorCode.TOO_MANY_POINTS
    assert refused.value.details == {"points": 1001, "limit": 1000}


async def test_a_retry_waiting_for_its_original_does_not_hold_the_originals_insert(
    storage: Storage, metrics: Metrics, validator: PointValidator, tenant: str
) -> None:
    """A retry of a write still in flight waits for the original's outcome; the original's
    insert must not wait for the retry (announced, but waiting on the original), or both would
    sit out the whole group-commit delay."""
    batcher = Batcher(storage.write, max_points=10_000, max_delay_s=60.0)
    limiter = Limiter(LimitsTable(DEFAULTS), metrics, series_window_s=3600)
    service = WriteService(batcher, metrics, limiter, RecentWrites(600))
    batcher.start()
    checked = validated(validator, tenant, point(value=7.0))
    key = b"request-" + tenant.encode()

    async def retry() -> int:
        with batcher.arriving():
            await asyncio.sleep(0)  # the original has begun by now
            return (await service.write(tenant, checked, DEFAULTS, key)).accepted

    try:
        retried = asyncio.create_task(retry())
        original = await asyncio.wait_for(service.write(tenant, checked, DEFAULTS, key), 10)
        assert original.accepted == 1
        assert await asyncio.wait_for(retried, 10) == 1
    finally:
        await batcher.close()
    assert stored_count(storage, tenant, "svc_probe") == 1
