"""Points on their way into storage: a tenant's validated points column by column, the points
refused on the way with the reason each was refused, and the outcome of a write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec

# A write reports at most this many refused points (all are counted).
MAX_REPORTED_ERRORS = 1000


class PointErrorCode(StrEnum):
    """Why one point of a write was rejected (per-point `error.code`)."""

    INVALID_METRIC_NAME = "invalid_metric_name"
    INVALID_DIMENSION_KEY = "invalid_dimension_key"
    INVALID_DIMENSION_VALUE = "invalid_dimension_value"
    TOO_MANY_DIMENSIONS = "too_many_dimensions"
    NON_FINITE_VALUE = "non_finite_value"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    INVALID_POINT = "invalid_point"
    SERIES_LIMIT_EXCEEDED = "series_limit_exceeded"
    METRIC_SERIES_LIMIT_EXCEEDED = "metric_series_limit_exceeded"


@dataclass
class TenantPoints:
    """Validated points of one tenant, column by column; `keys[i]` and `dim_values[i]` are
    point i's dimensions in matching order (any order: series identity sorts them). Points with
    the same keys may share one `keys` list: never change a point's lists in place."""

    tenant: str
    names: list[str] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    keys: list[list[str]] = field(default_factory=list)
    dim_values: list[Sequence[str]] = field(default_factory=list)
    # The identity of the request these points came in (see ingest/idempotency.py), recorded
    # with the insert so a retry after a crash is recognised.
    request_key: bytes | None = None

    def __len__(self) -> int:
        return len(self.names)

    def keep(self, positions: list[int]) -> None:
        """Keep only the points at `positions` (ascending)."""
        self.names = [self.names[i] for i in positions]
        self.timestamps = [self.timestamps[i] for i in positions]
        self.values = [self.values[i] for i in positions]
        self.keys = [self.keys[i] for i in positions]
        self.dim_values = [self.dim_values[i] for i in positions]


class PointError(msgspec.Struct, forbid_unknown_fields=True):
    code: PointErrorCode
    message: str


class RejectedPoint(msgspec.Struct, forbid_unknown_fields=True):
    """A refused point: its index in the request, its metric name if it had one, and why."""

    index: int
    metric: str | None
    error: PointError


@dataclass
class Validated:
    """One request's points after validation: every point is either in `points` or counted in
    `rejected_count` (and listed in `rejected`, up to MAX_REPORTED_ERRORS)."""

    points: TenantPoints
    rejected: list[RejectedPoint] = field(default_factory=list)
    rejected_count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # Request index of each accepted point, when some were rejected (else position = index).
    indices: list[int] | None = None

    def index_of(self, position: int) -> int:
        return position if self.indices is None else self.indices[position]

    def reject(self, index: int, metric: str | None, code: PointErrorCode, message: str) -> None:
        self.rejected_count += 1
        self.reasons[code.value] = self.reasons.get(code.value, 0) + 1
        if len(self.rejected) < MAX_REPORTED_ERRORS:
            self.rejected.append(RejectedPoint(index, metric, PointError(code, message)))

    def refuse(self, refused: list[tuple[int, PointErrorCode, str]]) -> None:
        """Move accepted points (by position in `points`) to the rejected list."""
        p = self.points
        drop = {pos for pos, _, _ in refused}
        for pos, code, message in refused:
            self.reject(self.index_of(pos), p.names[pos], code, message)
        self.rejected.sort(key=lambda r: r.index)
        keep = [i for i in range(len(p)) if i not in drop]
        self.indices = keep if self.indices is None else [self.indices[i] for i in keep]
        p.keep(keep)


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did: points stored, points refused (all counted, the first ones listed)."""

    accepted: int
    rejected: int
    errors: list[RejectedPoint]
