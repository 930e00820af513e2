"""A rolling update under load drops nothing: three Luminate processes on one real ClickHouse
server are replaced one at a time behind a balancer that routes like a Kubernetes Service
(tests/clickhouse/balancer.py), with the Deployment's strategy (maxSurge 1, maxUnavailable 0),
its readiness probe and its preStop sleep scaled down by `SCALE`.

A negative control runs the same replacement without the preStop delay and with a balancer that
learns about the old process only from failing probes; requests fail there, so the simulation is
able to see what the positive test claims does not happen."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clickhouse.balancer import BackgroundLoop, Balancer
from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess

# The production Deployment's values (readinessProbe periodSeconds 5, timeoutSeconds 3,
# failureThreshold 2; preStop sleep 15; terminationGracePeriodSeconds 30), ten times faster.
SCALE = 0.1
PERIOD_S = 5 * SCALE
PROBE_TIMEOUT_S = 3 * SCALE
FAILURE_THRESHOLD = 2
PRESTOP_S = 15 * SCALE
GRACE_S = 30 * SCALE
# How long the endpoints change takes to reach the proxies; the preStop sleep must cover it.
PROPAGATION_S = 3 * SCALE

DATABASE = "luminate_rollout"
METRIC = "rollout_probe"
POINTS_PER_WRITE = 20
MIN_PER_PHASE = 10
START_TIMEOUT_S = 60.0


def _env(server: Cluster) -> dict[str, str]:
    return {
        "LUMINATE_STORAGE_BACKEND": "clickhouse",
        "LUMINATE_CLICKHOUSE_HOSTS": ",".join(server.hosts),
        "LUMINATE_CLICKHOUSE_DATABASE": DATABASE,
        "LUMINATE_CLICKHOUSE_USERNAME": server.user,
        "LUMINATE_CLICKHOUSE_PASSWORD": server.password,
        "LUMINATE_CLICKHOUSE_CLUSTER": server.cluster_name,
        # The preStop sleep keeps the old process in service; SIGTERM then stops it at once.
        "LUMINATE_SHUTDOWN_DELAY_SECONDS": "0",
        "LUMINATE_SHUTDOWN_TIMEOUT_SECONDS": str(GRACE_S - PRESTOP_S),
        # Below the probe's own timeout, so a slow storage answers 503 rather than nothing.
        "LUMINATE_READINESS_TIMEOUT_MS": str(int(PROBE_TIMEOUT_S * 1000 * 2 / 3)),
    }


@pytest.fixture(scope="module")
def migrated(clickhouse_single: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """The schema is in place before any process starts, as a migration Job would leave it."""
    base = tmp_path_factory.mktemp("rollout-migrate")
    LuminateProcess(base / "unused", base / "migrate.log", _env(clickhouse_single)).migrate()
    return clickhouse_single


@dataclass
class Pods:
    """`luminate serve` processes started like pods: not waited for; the balancer's readiness
    probes decide when they take traffic. Every one is killed (by PID) at the end."""

    base: Path
    server: Cluster
    started: dict[str, LuminateProcess] = field(default_factory=dict)

    def create(self, name: str) -> LuminateProcess:
        proc = LuminateProcess(
            self.base / f"{name}-data", self.base / f"{name}.log", _env(self.server)
        ).launch()
        self.started[name] = proc
        return proc

    def log_tail(self, name: str) -> str:
        return self.started[name].log_path.read_text()[-3000:]

    def kill_all(self) -> None:
        for proc in self.started.values():
            proc.kill()


@dataclass(frozen=True)
class Sample:
    kind: str
    began: float
    ended: float
    status: int
    """0 when the client got no HTTP answer at all."""
    upstream: str
    detail: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Load:
    """Writers and readers through the balancer, each on one keep-alive connection, until
    stopped. Every written value is unique; `acked` holds those a 200 acknowledged."""

    url: str
    token: str
    writers: int = 3
    readers: int = 2
    pause_s: float = 0.01
    samples: list[Sample] = field(default_factory=list)
    acked: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    async def run(self) -> None:
        await asyncio.gather(
            *(self._client(n, self._write) for n in range(self.writers)),
            *(self._client(n, self._read) for n in range(self.readers)),
        )

    async def _client(
        self, n: int, step: Callable[[httpx.AsyncClient, int, int], Awaitable[None]]
    ) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(
            base_url=self.url, headers=headers, limits=limits, timeout=30
        ) as client:
            seq = 0
            while not self.stop.is_set():
                await step(client, n, seq)
                seq += 1
                await asyncio.sleep(self.pause_s)

    async def _write(self, client: httpx.AsyncClient, n: int, seq: int) -> None:
        now = time.time_ns() // 1_000_000
        first = (n + 1) * 1_000_000_000 + seq * POINTS_PER_WRITE
        values = [float(first + i) for i in range(POINTS_PER_WRITE)]
        body = {
            "metrics": [
                {"name": METRIC, "timestamp": now - i, "value": v, "dimensions": {"w": f"w{n}"}}
                for i, v in enumerate(values)
            ]
        }
        response = await self._send(client, "write", "/api/v1/write", body)
        if response is not None and response.status_code == 200:
            assert response.json()["accepted"] == POINTS_PER_WRITE, response.text
            self.acked.extend(values)

    async def _read(self, client: httpx.AsyncClient, n: int, seq: int) -> None:
        if seq % 2:
            body: dict[str, object] = {
                "queryType": "aggregate",
                "metricName": METRIC,
                "timeRange": {"relative": "1h"},
                "aggregation": "count",
                "groupBy": ["w"],
            }
        else:
            body = {
                "queryType": "range",
                "metricName": METRIC,
                "timeRange": {"relative": "1m"},
                "filters": {"w": f"w{seq % self.writers}"},
                "limit": 100,
            }
        await self._send(client, "query", "/api/v1/query", body)

    async def _send(
        self, client: httpx.AsyncClient, kind: str, path: str, body: object
    ) -> httpx.Response | None:
        began = time.monotonic()
        try:
            response = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"
            self.samples.append(Sample(kind, began, time.monotonic(), 0, "?", detail))
            return None
        upstream = response.headers.get("x-upstream", "?")
        detail = "" if response.is_success else response.text[:300]
        self.samples.append(
            Sample(kind, began, time.monotonic(), response.status_code, upstream, detail)
        )
        return response

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]


@dataclass
class Timeline:
    """Named moments of the rollout; a phase runs from one moment to the next."""

    marks: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        self.marks.append((name, time.monotonic()))

    def phases(self, end: float) -> list[tuple[str, float, float]]:
        bounds = [*self.marks, ("end", end)]
        return [(a[0], a[1], b[1]) for a, b in itertools.pairwise(bounds)]


def stored_values(server: Cluster, tenant: str) -> Counter[float]:
    rows = server.execute(
        0,
        f"SELECT value FROM {DATABASE}.samples WHERE tenant_id = %(t)s AND metric_name = %(m)s",
        {"t": tenant, "m": METRIC},
    )
    return Counter(float(r[0]) for r in rows)


def wait_exit(proc: LuminateProcess, timeout_s: float) -> tuple[int | None, float]:
    assert proc.proc is not None
    began = time.monotonic()
    try:
        code: int | None = proc.proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic() - began


@dataclass
class Rig:
    pods: Pods
    background: BackgroundLoop
    balancers: list[Balancer] = field(default_factory=list)

    def balancer(self, *, propagation_s: float = 0.0, remove_on_terminate: bool = True) -> Balancer:
        balancer = Balancer(
            self.background,
            period_s=PERIOD_S,
            failure_threshold=FAILURE_THRESHOLD,
            probe_timeout_s=PROBE_TIMEOUT_S,
            propagation_s=propagation_s,
            remove_on_terminate=remove_on_terminate,
        )
        self.background.call(balancer.start())
        self.balancers.append(balancer)
        return balancer

    def bring_up(self, balancer: Balancer, names: list[str]) -> None:
        """Create pods and wait until the balancer has each in rotation."""
        for name in names:
            balancer.add(name, self.pods.create(name).url)
        for name in names:
            try:
                balancer.wait_in_rotation(name, START_TIMEOUT_S)
            except TimeoutError:
                raise AssertionError(
                    f"{name} never became Ready:\n{self.pods.log_tail(name)}"
                ) from None


@pytest.fixture
def rig(migrated: Cluster, tmp_path: Path) -> Iterator[Rig]:
    pods = Pods(tmp_path, migrated)
    try:
        with BackgroundLoop() as background:
            rig = Rig(pods, background)
            try:
                yield rig
            finally:
                for balancer in rig.balancers:
                    background.call(balancer.close())
    finally:
        pods.kill_all()


@dataclass
class Rollout:
    timeline: Timeline
    exits: dict[str, tuple[int | None, float]] = field(default_factory=dict)
    """Exit code (None: still running at the grace period's end) and seconds after SIGTERM."""
    served_while_terminating: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def roll_out(rig: Rig, balancer: Balancer, load: Load, timeline: Timeline) -> Rollout:
    """The Deployment's RollingUpdate with maxSurge 1, maxUnavailable 0, one pod at a time:
    old-i is replaced by new-i for every old-i there is."""
    out = Rollout(timeline)
    count = sum(name.startswith("old-") for name in rig.pods.started)
    began = time.monotonic()
    for i in range(count):
        old, new = f"old-{i}", f"new-{i}"
        out.timeline.mark(f"surge {i}")  # maxSurge 1: the new pod comes first
        rig.bring_up(balancer, [new])
        out.timeline.mark(f"preStop {i}")  # maxUnavailable 0: only now is an old pod deleted
        terminating_since = time.monotonic()
        balancer.terminate(old)
        time.sleep(PRESTOP_S)  # preStop runs before SIGTERM; the process still serves
        out.timeline.mark(f"SIGTERM {i}")
        rig.pods.started[old].signal(signal.SIGTERM)
        out.exits[old] = wait_exit(rig.pods.started[old], GRACE_S)
        balancer.forget(old)
        out.served_while_terminating[old] = sum(
            s.upstream == old and s.began >= terminating_since for s in load.samples
        )
    out.seconds = time.monotonic() - began
    return out


def test_rolling_update_under_load_fails_no_request_and_loses_no_point(rig: Rig) -> None:
    balancer = rig.balancer(propagation_s=PROPAGATION_S)
    rig.bring_up(balancer, ["old-0", "old-1", "old-2"])
    tenant = f"rollout-{uuid.uuid4().hex[:8]}"
    load = Load(balancer.url, rig.pods.started["old-0"].token(tenant))
    running = rig.background.spawn(load.run())

    timeline = Timeline()
    timeline.mark("before")
    time.sleep(1.0)
    rollout = roll_out(rig, balancer, load, timeline)
    timeline.mark("after")
    time.sleep(1.0)
    load.stop.set()
    running.result(60)
    end = time.monotonic()

    failures = load.failures()
    # Requests in flight at some moment of each phase (a phase can be shorter than a request).
    per_phase = {
        name: sum(s.began < stop and s.ended > start and s.ok for s in load.samples)
        for name, start, stop in timeline.phases(end)
    }
    per_pod = Counter(s.upstream for s in load.samples if s.ok)
    stored = stored_values(rig.pods.server, tenant)
    duplicated = {v: n for v, n in stored.items() if n > 1}
    lost = [v for v in load.acked if v not in stored]
    figures: dict[str, Any] = {
        "requests": len(load.samples),
        "writes": sum(s.kind == "write" for s in load.samples),
        "queries": sum(s.kind == "query" for s in load.samples),
        "failures": len(failures),
        "points_acknowledged": len(load.acked),
        "points_stored": sum(stored.values()),
        "requests_per_phase": per_phase,
        "requests_per_process": dict(per_pod),
        "served_while_terminating": rollout.served_while_terminating,
        "exit_code_and_seconds_after_sigterm": rollout.exits,
        "client_connections": balancer.client_connections,
        "rollout_seconds": round(rollout.seconds, 1),
    }
    print(json.dumps(figures, indent=1))

    assert failures == [], failures[:5]
    assert balancer.no_endpoint == 0
    for name, (code, seconds) in rollout.exits.items():
        assert code == 0, f"{name} exit code {code}:\n{rig.pods.log_tail(name)}"
        # The kubelet kills what is still running when the grace period ends.
        assert seconds <= GRACE_S - PRESTOP_S, (name, seconds)
    assert lost == [], f"{len(lost)} acknowledged points missing, e.g. {lost[:5]}"
    assert duplicated == {}, f"points stored more than once: {list(duplicated.items())[:5]}"
    assert sum(stored.values()) == len(load.acked)
    # Not vacuous: load ran through every phase, and every process, old and new, served it.
    assert all(n >= MIN_PER_PHASE for n in per_phase.values()), per_phase
    assert all(per_pod[name] >= MIN_PER_PHASE for name in rig.pods.started), per_pod
    assert figures["writes"] >= 3 * MIN_PER_PHASE
    assert figures["queries"] >= 3 * MIN_PER_PHASE
    # Old processes took requests after being marked Terminating, until the change reached the
    # balancer: the preStop sleep is what kept those from failing.
    assert sum(rollout.served_while_terminating.values()) > 0, rollout.served_while_terminating
    # The clients' keep-alive connections lasted through the whole rollout.
    assert balancer.client_connections == load.writers + load.readers


def test_without_prestop_a_probe_only_balancer_sends_requests_to_a_stopped_process(
    rig: Rig,
) -> None:
    balancer = rig.balancer(remove_on_terminate=False)
    rig.bring_up(balancer, ["old-0", "old-1"])
    tenant = f"rollout-{uuid.uuid4().hex[:8]}"
    load = Load(balancer.url, rig.pods.started["old-0"].token(tenant))
    running = rig.background.spawn(load.run())

    time.sleep(1.0)
    rig.bring_up(balancer, ["new-0"])
    balancer.terminate("old-0")
    rig.pods.started["old-0"].signal(signal.SIGTERM)  # no preStop: SIGTERM at once
    code, _ = wait_exit(rig.pods.started["old-0"], GRACE_S)
    balancer.wait_out_of_rotation("old-0", PERIOD_S * (FAILURE_THRESHOLD + 2))
    time.sleep(0.5)
    load.stop.set()
    running.result(60)

    failures = load.failures()
    print(json.dumps({"requests": len(load.samples), "failures": len(failures), "exit": code}))
    assert code == 0  # the process shut down cleanly; the routing was wrong
    assert failures, "the simulation saw no failure where one was expected"
    assert {s.upstream for s in failures} == {"old-0"}, failures[:5]
    assert {s.status for s in failures} == {502}, failures[:5]
    # Refused requests never reached storage: whatever was acknowledged is stored, once.
    stored = stored_values(rig.pods.server, tenant)
    assert all(stored[v] == 1 for v in load.acked)
