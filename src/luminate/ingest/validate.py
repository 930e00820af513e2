"""The write rules of DESIGN §1, point by point, for every way points come in (JSON today;
remote_write and OTLP adapters build the same points).

Two paths: `all_valid` judges a whole batch from caches of names and keys already proven valid
plus the time window (cheap, no allocation); `check` applies every rule to one point and either
appends it to the accepted columns or records why it was refused. A decoder uses the first and
falls back to the second when it says no, so a bad point is reported by index and code while its
neighbours are still accepted. Both apply the same rules (a property test holds them together)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Protocol

from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.names import (
    MAX_DIMENSIONS,
    MAX_KEY,
    MAX_NAME,
    MAX_VALUE,
    NAME,
    is_dimension_key,
    is_metric_name,
)
from luminate.model.points import PointErrorCode, Validated
from luminate.model.time import parse_time


class PointIn(Protocol):
    """A point as a decoder produced it: right field types, nothing else checked yet."""

    @property
    def name(self) -> str: ...
    @property
    def timestamp(self) -> int | str: ...
    @property
    def value(self) -> float: ...
    @property
    def dimensions(self) -> Mapping[str, str]: ...


class _NameCache:
    """Names already proven valid. Bounded: cleared when full, which only costs re-checking."""

    def __init__(self, limit: int = 100_000) -> None:
        self.good: set[str] = set()
        self.limit = limit

    def add(self, name: str) -> None:
        if len(self.good) >= self.limit:
            self.good.clear()
        self.good.add(name)


class PointValidator:
    """Validates points against the write rules; reusable across requests (its caches only
    remember names and keys that passed)."""

    def __init__(self, *, max_age_ms: int, max_future_ms: int, max_points: int) -> None:
        self.max_age_ms = max_age_ms
        self.max_future_ms = max_future_ms
        self.max_points = max_points
        self._names = _NameCache()
        self._keys = _NameCache()

    def check_count(self, n: int) -> None:
        """BadRequest(too_many_points) for a request over the points limit (nothing stored)."""
        if n > self.max_points:
            raise BadRequest(
                f"{n} points in one request; the limit is {self.max_points} "
                "(LUMINATE_WRITE_MAX_POINTS)",
                code=ErrorCode.TOO_MANY_POINTS,
                details={"points": n, "limit": self.max_points},
            )

    def all_valid(self, points: Iterable[PointIn], now_ms: int) -> bool:
        """True when every point passes the rules a typed decoder could not check, judged from
        caches; False means: check each point with `check`."""
        names = self._names.good
        keys = self._keys.good
        lo = now_ms - self.max_age_ms
        hi = now_ms + self.max_future_ms
        for m in points:
            ts = m.timestamp
            if (
                m.name not in names
                or type(ts) is not int
                or ts < lo
                or ts > hi
                or not keys.issuperset(m.dimensions)
            ):
                return False
        return True

    def check(self, out: Validated, index: int, m: PointIn, now_ms: int) -> None:
        """Every rule on point `index`: appended to `out.points`, or rejected with its code."""
        name = m.name
        if name not in self._names.good:
            if not is_metric_name(name):
                out.reject(
                    index,
                    name[:MAX_NAME],
                    PointErrorCode.INVALID_METRIC_NAME,
                    f"metric name must match {NAME.pattern} and be at most {MAX_NAME} characters",
                )
                return
            self._names.add(name)
        ts = m.timestamp
        if type(ts) is not int:
            try:
                ts = parse_time(ts)
            except ValueError as exc:
                out.reject(index, name, PointErrorCode.INVALID_TIMESTAMP, str(exc))
                return
        if ts < now_ms - self.max_age_ms:
            out.reject(
                index,
                name,
                PointErrorCode.TIMESTAMP_TOO_OLD,
                f"timestamp {ts} is older than {self.max_age_ms // 1000} s "
                "(LUMINATE_WRITE_MAX_AGE_SECONDS)",
            )
            return
        if ts > now_ms + self.max_future_ms:
            out.reject(
                index,
                name,
                PointErrorCode.TIMESTAMP_IN_FUTURE,
                f"timestamp {ts} is more than {self.max_future_ms // 1000} s in the future "
                "(LUMINATE_WRITE_MAX_FUTURE_SECONDS)",
            )
            return
        value = m.value
        if not math.isfinite(value):
            out.reject(index, name, PointErrorCode.NON_FINITE_VALUE, "value must be finite")
            return
        keys, vals = self._dimensions(out, index, name, m.dimensions)
        if keys is None or vals is None:
            return
        p = out.points
        if out.indices is not None:
            out.indices.append(index)
        p.names.append(name)
        p.timestamps.append(ts)
        p.values.append(value)
        p.keys.append(keys)
        p.dim_values.append(vals)

    def _dimensions(
        self, out: Validated, index: int, name: str, dims: Mapping[str, str]
    ) -> tuple[list[str] | None, list[str] | None]:
        if not dims:
            return [], []
        if len(dims) > MAX_DIMENSIONS:
            out.reject(
                index,
                name,
                PointErrorCode.TOO_MANY_DIMENSIONS,
                f"{len(dims)} dimensions; at most {MAX_DIMENSIONS} are allowed",
            )
            return None, None
        keys = list(dims)
        vals = list(dims.values())
        for k, v in zip(keys, vals, strict=True):
            if k not in self._keys.good:
                if not is_dimension_key(k):
                    out.reject(
                        index,
                        name,
                        PointErrorCode.INVALID_DIMENSION_KEY,
                        f"dimension key {k[:MAX_KEY]!r} must match {NAME.pattern} and be at "
                        f"most {MAX_KEY} characters",
                    )
                    return None, None
                self._keys.add(k)
            if not v or len(v) > MAX_VALUE:
                out.reject(
                    index,
                    name,
                    PointErrorCode.INVALID_DIMENSION_VALUE,
                    f"dimension {k!r} must have a non-empty value of at most {MAX_VALUE} "
                    "characters",
                )
                return None, None
        return keys, vals
