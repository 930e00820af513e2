"""Per-tenant limits as data: one record with defaults from settings, overridden by tier and then
by tenant from a YAML file that is reread when it changes. `LimitsTable.for_principal` is the
only accessor."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any

import msgspec
import yaml

from luminate.settings import ConfigError, Settings

log = logging.getLogger("luminate.limits")

_RECHECK_S = 5.0


@dataclass(frozen=True)
class TenantLimits:
    """Every limit one tenant is held to. Field names are the keys of the overrides file."""

    write_rps: float
    query_rps: float
    metrics_per_sec: float
    burst_seconds: float
    concurrent_queries: int
    max_series: int
    max_series_per_metric: int
    query_max_range_seconds: int
    query_max_limit: int
    query_max_timeout_seconds: float
    query_max_rows_scanned: int

    @classmethod
    def from_settings(cls, s: Settings) -> TenantLimits:
        return cls(
            write_rps=s.ratelimit_write_rps,
            query_rps=s.ratelimit_query_rps,
            metrics_per_sec=s.ratelimit_metrics_per_sec,
            burst_seconds=s.ratelimit_burst_seconds,
            concurrent_queries=s.ratelimit_concurrent_queries,
            max_series=s.cardinality_max_series,
            max_series_per_metric=s.cardinality_max_series_per_metric,
            query_max_range_seconds=s.query_max_range_seconds,
            query_max_limit=s.query_max_limit,
            query_max_timeout_seconds=s.query_max_timeout_seconds,
            query_max_rows_scanned=s.query_max_rows_scanned,
        )


# Where each limit's default comes from, for messages that tell an operator what to change.
SETTING_OF = {
    "write_rps": "LUMINATE_RATELIMIT_WRITE_RPS",
    "query_rps": "LUMINATE_RATELIMIT_QUERY_RPS",
    "metrics_per_sec": "LUMINATE_RATELIMIT_METRICS_PER_SEC",
    "burst_seconds": "LUMINATE_RATELIMIT_BURST_SECONDS",
    "concurrent_queries": "LUMINATE_RATELIMIT_CONCURRENT_QUERIES",
    "max_series": "LUMINATE_CARDINALITY_MAX_SERIES",
    "max_series_per_metric": "LUMINATE_CARDINALITY_MAX_SERIES_PER_METRIC",
    "query_max_range_seconds": "LUMINATE_QUERY_MAX_RANGE_SECONDS",
    "query_max_limit": "LUMINATE_QUERY_MAX_LIMIT",
    "query_max_timeout_seconds": "LUMINATE_QUERY_MAX_TIMEOUT_SECONDS",
    "query_max_rows_scanned": "LUMINATE_QUERY_MAX_ROWS_SCANNED",
}


def source(limit: str) -> str:
    """How to name a limit in an error: its setting and the override key."""
    return f"{SETTING_OF[limit]} or the override `{limit}`"


_Rate = Annotated[float, msgspec.Meta(gt=0)]
_Count = Annotated[int, msgspec.Meta(ge=1)]
_Zero = Annotated[int, msgspec.Meta(ge=0)]


class _Override(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    write_rps: _Rate | None = None
    query_rps: _Rate | None = None
    metrics_per_sec: _Rate | None = None
    burst_seconds: _Rate | None = None
    concurrent_queries: _Count | None = None
    max_series: _Count | None = None
    max_series_per_metric: _Zero | None = None
    query_max_range_seconds: _Count | None = None
    query_max_limit: _Count | None = None
    query_max_timeout_seconds: _Rate | None = None
    query_max_rows_scanned: _Count | None = None


class _OverridesFile(msgspec.Struct, forbid_unknown_fields=True):
    tiers: dict[str, _Override] = {}
    tenants: dict[str, _Override] = {}


assert {f.name for f in fields(TenantLimits)} == set(_Override.__struct_fields__) == set(SETTING_OF)


def _apply(base: TenantLimits, override: _Override | None) -> TenantLimits:
    if override is None:
        return base
    changes: dict[str, Any] = msgspec.to_builtins(override)
    return replace(base, **changes)


def read_overrides(path: str) -> _OverridesFile:
    """The parsed overrides file; ConfigError naming the file and the offending key."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"LUMINATE_LIMITS_OVERRIDES_FILE {path!r}: {exc}") from None
    try:
        return msgspec.convert(data or {}, _OverridesFile, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"LUMINATE_LIMITS_OVERRIDES_FILE {path!r}: {exc}") from None


class LimitsTable:
    """Defaults, tier overrides, tenant overrides — in that order of precedence."""

    def __init__(self, defaults: TenantLimits, overrides_path: str = "") -> None:
        self.defaults = defaults
        self._path = overrides_path
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._file = _OverridesFile()
        self._cache: dict[tuple[str, str | None], TenantLimits] = {}
        if overrides_path:
            self._load(initial=True)

    def for_principal(self, tenant: str, tier: str | None) -> TenantLimits:
        if self._path:
            self._maybe_reload()
        key = (tenant, tier)
        limits = self._cache.get(key)
        if limits is None:
            limits = _apply(
                _apply(self.defaults, self._file.tiers.get(tier) if tier else None),
                self._file.tenants.get(tenant),
            )
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = limits
        return limits

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < _RECHECK_S:
            return
        self._checked = now
        self._load(initial=False)

    def _load(self, *, initial: bool) -> None:
        try:
            st = os.stat(self._path)
        except OSError as exc:
            if initial:
                raise ConfigError(f"LUMINATE_LIMITS_OVERRIDES_FILE {self._path!r}: {exc}") from None
            log.error(
                "limits overrides file unreadable; keeping the previous limits",
                extra={"path": self._path, "error": str(exc)},
            )
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            parsed = read_overrides(self._path)
        except ConfigError as exc:
            if initial:
                raise
            log.error(
                "limits overrides file invalid; keeping the previous limits",
                extra={"path": self._path, "error": exc.message},
            )
            self._stamp = stamp
            return
        self._file = parsed
        self._stamp = stamp
        self._cache.clear()
        if not initial:
            log.info("limits overrides reloaded", extra={"path": self._path})
