"""Probe and health answers."""

from __future__ import annotations

from typing import Literal

import msgspec

from luminate.health.service import HealthReport, Readiness, StorageCheck, WritesCheck
from luminate.limits.coordination import LimitsStatus


class _Out(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, rename="camel"):
    pass


class StorageOut(_Out):
    status: Literal["up", "down"]
    backend: str
    latency_ms: float | None = None
    error: str | None = None


class WritesOut(_Out):
    status: Literal["ok", "failing"]
    last_error: str | None = None


class LimitsOut(_Out):
    """`mode` is what the process enforces: `global` (limits divided among `members` live
    processes) or `local` (each process the full limits); `degraded` when configured global
    but enforcing local, with `problem` saying why."""

    status: Literal["ok", "degraded"]
    configured: Literal["global", "local"]
    mode: Literal["global", "local"]
    members: int
    discovery: str
    problem: str | None = None


class Liveness(_Out):
    status: Literal["alive"]


class ReadinessOut(_Out):
    status: Literal["ready", "not_ready", "draining", "starting"]
    storage: StorageOut | None = None
    writes: WritesOut | None = None


class Startup(_Out):
    status: Literal["started", "starting"]


class Components(_Out):
    storage: StorageOut
    writes: WritesOut
    limits: LimitsOut | None = None


class HealthOut(_Out):
    status: Literal["ok", "degraded"]
    version: str
    started: bool
    draining: bool
    components: Components


def _storage(c: StorageCheck) -> StorageOut:
    return StorageOut(c.status, c.backend, c.latency_ms, c.error)


def _writes(c: WritesCheck) -> WritesOut:
    return WritesOut(c.status, c.last_error)


def _limits(s: LimitsStatus) -> LimitsOut:
    return LimitsOut(
        "degraded" if s.degraded else "ok",
        s.configured.value,
        s.mode.value,
        s.members,
        s.discovery,
        s.problem,
    )


def readiness(r: Readiness) -> ReadinessOut:
    return ReadinessOut(
        r.status,
        _storage(r.storage) if r.storage is not None else None,
        _writes(r.writes) if r.writes is not None else None,
    )


def health(r: HealthReport) -> HealthOut:
    return HealthOut(
        "ok" if r.healthy else "degraded",
        r.version,
        r.started,
        r.draining,
        Components(
            _storage(r.storage),
            _writes(r.writes),
            _limits(r.limits) if r.limits is not None else None,
        ),
    )
