"""Limits hold across replicas: three `luminate serve` processes on one real ClickHouse server.

- Rates: with a global write limit of L requests per second, a tenant sending 3L spread evenly
  over the three processes gets about L accepted in total, and a neighbour sending below its
  limit loses nothing. The same load in `local` mode gets about 3L (the negative control).
  Acceptances are counted in a window that starts once the buckets' initial burst is spent, so
  the count is the sustained rate; a burst of a few seconds absorbs the client's stalls on a
  busy machine.
- Series: a tenant's series count is shared, so the second process refuses new series once the
  two processes together reach the limit, and a third process accepts points of series only the
  first one ever saw. In `local` mode the third process accepts new series (the control).
- Fallback: one process whose link to ClickHouse is cut (a TCP forwarder, `testbed/tcpproxy.py`)
  falls back to local limits and says so in /api/v1/health and /metrics; the others count one
  member less; once the link is back everything is global again.

The server runs without `LUMINATE_CLICKHOUSE_CLUSTER` (one server, plain tables), so every
statement of the cut-off process goes through its forwarder."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest

from testbed.tcpproxy import TcpProxy
from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess

DATABASE = "luminate_globallimits"
L = 10  # the configured write limit, requests per second per tenant
BURST_S = 3  # each bucket holds three seconds of its rate
WARMUP_S = 4.0  # at 3L offered, the fleet's burst (3L tokens) is spent after 1.5 s
MEASURE_S = 8.0
MAX_SERIES = 30
INTERVAL_S = 0.5  # heartbeats and series syncs
TIMEOUT_S = 6.0  # heartbeat timeout: generous, the processes share two busy cores
START_TIMEOUT_S = 90.0


def _env(
    server: Cluster, mode: str, host: str | None = None, database: str = DATABASE
) -> dict[str, str]:
    return {
        "LUMINATE_STORAGE_BACKEND": "clickhouse",
        "LUMINATE_CLICKHOUSE_HOSTS": host or server.hosts[0],
        "LUMINATE_CLICKHOUSE_DATABASE": database,
        "LUMINATE_CLICKHOUSE_USERNAME": server.user,
        "LUMINATE_CLICKHOUSE_PASSWORD": server.password,
        "LUMINATE_CLICKHOUSE_CONNECT_TIMEOUT_SECONDS": "1",
        "LUMINATE_READINESS_TIMEOUT_MS": "500",
        "LUMINATE_RATELIMIT_WRITE_RPS": str(L),
        "LUMINATE_RATELIMIT_BURST_SECONDS": str(BURST_S),
        "LUMINATE_CARDINALITY_MAX_SERIES": str(MAX_SERIES),
        "LUMINATE_LIMITS_MODE": mode,
        "LUMINATE_LIMITS_HEARTBEAT_INTERVAL_SECONDS": str(INTERVAL_S),
        "LUMINATE_LIMITS_HEARTBEAT_TIMEOUT_SECONDS": str(TIMEOUT_S),
        "LUMINATE_LIMITS_SERIES_SYNC_INTERVAL_SECONDS": str(INTERVAL_S),
    }


@pytest.fixture(scope="module")
def server(clickhouse_single: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """The schema in place before any process starts, as a migration Job would leave it."""
    base = tmp_path_factory.mktemp("globallimits-migrate")
    env = _env(clickhouse_single, "global")
    LuminateProcess(base / "unused", base / "migrate.log", env).migrate()
    return clickhouse_single


@dataclass
class Fleet:
    procs: list[LuminateProcess]

    def stop(self) -> None:
        for p in self.procs:
            p.stop()


def _start(base: Path, envs: list[dict[str, str]]) -> Fleet:
    base.mkdir(parents=True, exist_ok=True)
    procs = [
        LuminateProcess(base / f"unused{i}", base / f"luminate{i}.log", env)
        for i, env in enumerate(envs)
    ]
    for p in procs:
        p.launch()
    fleet = Fleet(procs)
    try:
        for p in procs:
            p.wait_ready(START_TIMEOUT_S)
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _fleet(server: Cluster, base: Path, mode: str) -> Fleet:
    fleet = _start(base, [_env(server, mode)] * 3)
    if mode == "global":
        for p in fleet.procs:
            _wait(partial(_members_are, p, 3), 30, "3 members")
    return fleet


@pytest.fixture(scope="module", params=["global", "local"])
def fleet(
    request: pytest.FixtureRequest, server: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Fleet]]:
    """Three processes in one mode, shared by the rate and the series tests."""
    mode = str(request.param)
    started = _fleet(server, tmp_path_factory.mktemp(f"fleet-{mode}"), mode)
    yield mode, started
    started.stop()


def _gauge(proc: LuminateProcess, name: str) -> float | None:
    text = httpx.get(proc.internal_url + "/metrics", timeout=5).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else None


def _members_are(proc: LuminateProcess, n: int) -> bool:
    return _gauge(proc, "luminate_limits_members") == n


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _point(series: str) -> dict[str, object]:
    return {
        "name": "requests",
        "timestamp": time.time_ns() // 1_000_000,
        "value": 1.0,
        "dimensions": {"series": series},
    }


def _send(proc: LuminateProcess, tenant: str, per_s: float) -> list[tuple[float, int]]:
    """Writes of one point at `per_s` requests per second, evenly paced over the warm-up and
    the measured window; (seconds since the start, status) of each."""
    out: list[tuple[float, int]] = []
    headers = proc.headers(tenant)
    body = {"metrics": [_point(f"{proc.port}")]}
    with httpx.Client(base_url=proc.url, headers=headers, timeout=10) as client:
        began = time.monotonic()
        for k in range(round(per_s * (WARMUP_S + MEASURE_S))):
            delay = began + k / per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            status = client.post("/api/v1/write", json=body).status_code
            out.append((k / per_s, status))
    return out


@dataclass
class Outcome:
    sent: int
    statuses: Counter[int]  # of all requests
    measured: Counter[int]  # of those sent within the measured window

    @property
    def accepted_per_s(self) -> float:
        return self.measured[200] / MEASURE_S


def _outcome(results: list[list[tuple[float, int]]]) -> Outcome:
    flat = [r for rs in results for r in rs]
    measured = Counter(status for t, status in flat if t >= WARMUP_S)
    return Outcome(len(flat), Counter(status for _, status in flat), measured)


def _load(fleet: Fleet) -> tuple[Outcome, Outcome]:
    """The noisy tenant sends L per second to each of the three processes (3L in total); its
    neighbour sends a fifth of that. Returns what each got."""
    noisy, neighbour = f"noisy-{uuid.uuid4().hex[:8]}", f"calm-{uuid.uuid4().hex[:8]}"
    results: dict[str, list[list[tuple[float, int]]]] = {noisy: [], neighbour: []}
    lock = threading.Lock()

    def run(proc: LuminateProcess, tenant: str, per_s: float) -> None:
        sent = _send(proc, tenant, per_s)
        with lock:
            results[tenant].append(sent)

    threads = [
        threading.Thread(target=run, args=(p, t, rate))
        for p in fleet.procs
        for t, rate in ((noisy, float(L)), (neighbour, L / 5))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WARMUP_S + MEASURE_S + 120)
    return _outcome(results[noisy]), _outcome(results[neighbour])


def test_a_write_limit_holds_across_three_processes(fleet: tuple[str, Fleet]) -> None:
    mode, procs = fleet
    noisy, calm = _load(procs)
    assert noisy.sent == round(3 * L * (WARMUP_S + MEASURE_S))
    print(
        f"{mode}: {noisy.measured[200]} of {sum(noisy.measured.values())} accepted in "
        f"{MEASURE_S:g} s ({noisy.accepted_per_s:.1f}/s, limit {L}/s); all: {noisy.statuses}"
    )
    if mode == "global":
        assert abs(noisy.accepted_per_s - L) <= 0.2 * L
        # Still three: the count did not drop while the processes were busy.
        assert [_gauge(p, "luminate_limits_members") for p in procs.procs] == [3, 3, 3]
    else:
        # The negative control: each process admits L by itself, so the tenant gets about 3L,
        # far outside the 20% the global mode is held to.
        assert noisy.accepted_per_s >= 2.5 * L
    assert set(noisy.statuses) <= {200, 429}
    # The neighbour, below its own limit, is untouched.
    assert calm.statuses == Counter({200: calm.sent})


def _write_series(proc: LuminateProcess, tenant: str, names: list[str]) -> dict[str, int]:
    """Writes one point of each series; returns how many were accepted and refused."""
    r = httpx.post(
        proc.url + "/api/v1/write",
        json={"metrics": [_point(n) for n in names]},
        headers=proc.headers(tenant),
        timeout=10,
    )
    assert r.status_code in (200, 207, 400), r.text
    body = r.json()
    codes = {e["error"]["code"] for e in body["errors"]}
    assert codes <= {"series_limit_exceeded"}, body
    return {"accepted": body["accepted"], "refused": body["rejected"]}


def _estimate(proc: LuminateProcess, tenant: str) -> int:
    r = httpx.get(proc.url + "/api/v1/cardinality", headers=proc.headers(tenant), timeout=10)
    assert r.status_code == 200, r.text
    return int(r.json()["limits"]["estimatedActiveSeries"])


def test_series_are_counted_across_processes(fleet: tuple[str, Fleet]) -> None:
    mode, procs = fleet
    first, second, third = procs.procs
    tenant = f"series-{uuid.uuid4().hex[:8]}"
    mine = [f"a{i}" for i in range(20)]
    assert _write_series(first, tenant, mine) == {"accepted": 20, "refused": 0}
    if mode == "global":
        _wait(lambda: _estimate(second, tenant) >= 20, 20, "the second process to merge")
    else:
        time.sleep(4 * INTERVAL_S)  # as long as the global run waits, at least
    theirs = _write_series(second, tenant, [f"b{i}" for i in range(20)])
    if mode == "local":
        # Each process counts only its own: the control shows the limits would not hold.
        assert theirs == {"accepted": 20, "refused": 0}
        assert _write_series(third, tenant, ["c0"]) == {"accepted": 1, "refused": 0}
        return
    # Together the two reached the limit of 30 after about 10 of the second one's series.
    assert 8 <= theirs["accepted"] <= 12, theirs
    _wait(lambda: _estimate(third, tenant) >= MAX_SERIES - 2, 20, "the third process to merge")
    assert _write_series(third, tenant, ["c0", "c1"]) == {"accepted": 0, "refused": 2}
    # Series only the first process ever saw are known to the third: still accepted.
    assert _write_series(third, tenant, mine) == {"accepted": 20, "refused": 0}


def _limits(proc: LuminateProcess) -> dict[str, object]:
    health = httpx.get(proc.internal_url + "/api/v1/health", timeout=5).json()
    component: dict[str, object] = health["components"]["limits"]
    return component


def test_a_process_cut_off_from_storage_falls_back_to_local_limits(
    server: Cluster, tmp_path: Path
) -> None:
    # A database of its own: processes of other databases (the fleets above) share nothing.
    database = f"{DATABASE}_fallback"
    env = _env(server, "global", database=database)
    LuminateProcess(tmp_path / "unused", tmp_path / "migrate.log", env).migrate()
    host, port = server.hosts[0].rsplit(":", 1)
    proxy = TcpProxy(host, int(port)).start()
    try:
        cut_off = _env(server, "global", host=f"127.0.0.1:{proxy.port}", database=database)
        fleet = _start(tmp_path, [env, env, cut_off])
        try:
            first, _, partitioned = fleet.procs
            for p in fleet.procs:
                _wait(partial(_members_are, p, 3), 30, "3 members")
            assert _limits(partitioned) == {
                "status": "ok",
                "configured": "global",
                "mode": "global",
                "members": 3,
                "discovery": "heartbeats in the storage",
            }

            proxy.cut()
            _wait(
                lambda: _gauge(partitioned, 'luminate_limits_mode{mode="local"}') == 1,
                3 * TIMEOUT_S,
                "local mode on the cut-off process",
            )
            limits = _limits(partitioned)
            assert limits["status"] == "degraded"
            assert limits["mode"] == "local"
            assert limits["members"] == 1
            assert "heartbeat" in str(limits["problem"])
            assert _gauge(partitioned, 'luminate_limits_mode{mode="global"}') == 0
            assert _gauge(partitioned, "luminate_limits_members") == 1
            # The others stop counting it once its heartbeat expires.
            _wait(lambda: _gauge(first, "luminate_limits_members") == 2, 3 * TIMEOUT_S, "2")
            assert _limits(first)["mode"] == "global"

            proxy.restore()
            for p in fleet.procs:
                _wait(
                    partial(_members_are, p, 3),
                    3 * TIMEOUT_S,
                    "3 members again",
                )
            assert _gauge(partitioned, 'luminate_limits_mode{mode="global"}') == 1
            assert _limits(partitioned)["status"] == "ok"
        finally:
            fleet.stop()
    finally:
        proxy.stop()
