"""Probes of the error-code table: a `Probe` is one request and the status, top-level code and
per-point codes it must produce; with it, the headers (tokens), preconditions and bodies that
probes are built from, and the loaded server the query-timeout probe runs on."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from luminate.auth.tokens import create_token
from luminate.model.points import PointErrorCode
from tests.app.bodies import SMALL_BODY_LIMIT, TINY_TIER
from tests.app.inprocess import InProcessApp
from tests.support.asgi import unfinished_request
from tests.support.clock import now_ms
from tests.support.points import DAY_MS, dumps
from tests.support.tenants import new_tenant
from tests.support.tokens import TEST_SECRET, auth_headers

TIMEOUT_S = 120.0

Observed = set[tuple[str, str]]


def point(**over: Any) -> dict[str, Any]:
    return {"name": "probe", "timestamp": now_ms() - 1000, "value": 1.0, **over}


def write_body(*points: dict[str, Any]) -> bytes:
    return dumps({"metrics": list(points)})


def query_body(**over: Any) -> bytes:
    body = {"queryType": "range", "metricName": "probe", "timeRange": {"relative": "1h"}}
    body.update(over)
    return dumps(body)


@dataclass(frozen=True)
class Loaded:
    """The shared server, holding a high-cardinality tenant and a one-point tenant."""

    proc: InProcessApp
    tenant: str
    start_ms: int
    small_tenant: str
    small_value: float


Headers = Callable[[InProcessApp, str], dict[str, str]]


def token(scopes: str = "read,write,admin") -> Headers:
    return lambda proc, tenant: proc.headers(tenant, scopes)


def tiny(scopes: str = "read,write") -> Headers:
    """A token of the `limited` server's tier of tiny limits."""

    def make(proc: InProcessApp, tenant: str) -> dict[str, str]:
        return auth_headers(tenant, scopes, tier=TINY_TIER)

    return make


Before = Callable[[InProcessApp, dict[str, str]], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def stored_points(proc: InProcessApp, headers: dict[str, str]) -> Iterator[None]:
    """Three stored points of `probe`, so a query reads more than one row."""
    body = write_body(point(value=1.0), point(value=2.0), point(value=3.0))
    resp = proc.client.post("/api/v1/write", headers=headers, content=body, timeout=TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    yield


@contextlib.contextmanager
def query_in_flight(proc: InProcessApp, headers: dict[str, str]) -> Iterator[None]:
    """A query of the same tenant that holds its slot: its body arrives only after the probe."""
    with unfinished_request(proc.client, "POST", "/api/v1/query", headers, b"{"):
        yield


def no_token(proc: InProcessApp, tenant: str) -> dict[str, str]:
    return {}


def garbage_token(proc: InProcessApp, tenant: str) -> dict[str, str]:
    return {"Authorization": "Bearer not.a.token"}


def expired_token(proc: InProcessApp, tenant: str) -> dict[str, str]:
    expired = create_token(TEST_SECRET, tenant=tenant, scopes=["read"], ttl_s=-3600)
    return {"Authorization": f"Bearer {expired}"}


@dataclass(frozen=True)
class Probe:
    """One request and the status, top-level code and per-point codes it must produce.

    `bodies` are tried in order until one answers `status` (only the timeout probe has more
    than one: it depends on the engine being slower than 1 ms)."""

    id: str
    method: str
    path: str
    status: int
    code: str | None
    bodies: tuple[Callable[[], bytes], ...] = ()
    point_codes: tuple[str, ...] = ()
    headers: Headers = field(default=token())
    extra_headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    on_loaded: bool = False
    before: Before | None = None

    def expected(self) -> Observed:
        out: Observed = {("point", c) for c in self.point_codes}
        if self.code is not None:
            out.add(("error", self.code))
        return out

    def send(self, limited: InProcessApp, loaded: Loaded | None) -> httpx.Response:
        if self.on_loaded:
            assert loaded is not None
            proc, tenant = loaded.proc, loaded.tenant
        else:
            proc, tenant = limited, new_tenant()
        bodies: list[Callable[[], bytes] | None] = list(self.bodies) or [None]
        headers = self.headers(proc, tenant)
        resp: httpx.Response | None = None
        with self.before(proc, headers) if self.before else contextlib.nullcontext():
            for make in bodies:
                resp = proc.client.request(
                    self.method,
                    self.path,
                    headers={**headers, **self.extra_headers},
                    params=self.params,
                    content=make() if make is not None else None,
                    timeout=TIMEOUT_S,
                )
                if resp.status_code == self.status:
                    break
        assert resp is not None
        return resp


def every_point_code_batch() -> bytes:
    """One valid point, then one point per PointErrorCode, in declaration order."""
    bad: dict[PointErrorCode, dict[str, Any] | bytes] = {
        PointErrorCode.INVALID_METRIC_NAME: point(name="1probe"),
        PointErrorCode.INVALID_DIMENSION_KEY: point(dimensions={"1key": "v"}),
        PointErrorCode.INVALID_DIMENSION_VALUE: point(dimensions={"key": ""}),
        PointErrorCode.TOO_MANY_DIMENSIONS: point(dimensions={f"k{i}": "v" for i in range(21)}),
        PointErrorCode.NON_FINITE_VALUE: b'{"name":"probe","timestamp":%d,"value":1e999}'
        % (now_ms() - 1000),
        PointErrorCode.INVALID_TIMESTAMP: point(timestamp="2026-01-01T00:00:00"),
        PointErrorCode.TIMESTAMP_TOO_OLD: point(timestamp=now_ms() - 8 * DAY_MS),
        PointErrorCode.TIMESTAMP_IN_FUTURE: point(timestamp=now_ms() + 2 * 3_600_000),
        PointErrorCode.INVALID_POINT: point(value="1.0"),
    }
    assert set(bad) == set(PointErrorCode) - SERIES_CODES
    parts = [dumps(point(value=2.0))]
    for code in PointErrorCode:
        if code in SERIES_CODES:
            continue
        p = bad[code]
        parts.append(p if isinstance(p, bytes) else dumps(p))
    return b'{"metrics":[' + b",".join(parts) + b"]}"


SERIES_CODES = {PointErrorCode.SERIES_LIMIT_EXCEEDED, PointErrorCode.METRIC_SERIES_LIMIT_EXCEEDED}


def series_over_limits() -> bytes:
    """For the tiny tier (2 series, 1 per metric): a series, a second series of the same metric,
    a series of another metric, and a fourth series past the tenant's limit."""
    return write_body(
        point(),
        point(dimensions={"k": "second"}),
        point(name="other"),
        point(name="third"),
    )


def over_limit() -> bytes:
    body = write_body(point())
    return body[:-1] + b" " * (SMALL_BODY_LIMIT + 1 - len(body)) + b"}"
