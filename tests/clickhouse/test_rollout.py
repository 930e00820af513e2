"""A rolling update under `luminate loadtest` traffic fails no request and stores every
acknowledged point exactly once: three Luminate processes on the 2 shards x 2 replicas cluster
are replaced behind a balancer that routes like a Kubernetes Service
(tests/clickhouse/balancer.py), the way the Deployment's RollingUpdate does it, with the
production settings read from the rendered manifests (`kubectl kustomize
deployments/kubernetes/production`), not copied: the readiness probe's period, timeout and
failure threshold, the preStop sleep, terminationGracePeriodSeconds, maxSurge and
maxUnavailable, and LUMINATE_SHUTDOWN_DELAY_SECONDS / LUMINATE_SHUTDOWN_TIMEOUT_SECONDS from the
luminate-config ConfigMap. Nothing is scaled: with the production values the drill takes about
a minute.

maxSurge 1 / maxUnavailable 0: a new process is created, and only once it is Ready is an old one
deleted; a deleted (Terminating) pod no longer counts towards the ReplicaSet, so the next new
process is created at once, while the old one is still in its preStop sleep. The kubelet runs
preStop, then sends SIGTERM, and kills what still runs when the grace period ends.

A negative control replaces a process without the preStop sleep, behind a balancer that learns
about it only from failing readiness probes; requests fail there, so the drill is able to see
what the positive test claims does not happen."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.clickhouse.balancer import BackgroundLoop, Balancer
from tests.clickhouse.fleet import cluster_env, finish_loadtest, recount, start_loadtest
from tests.clickhouse.harness import Cluster
from tests.deployment.manifests import (
    KubectlMissing,
    build,
    configmap_data,
    find,
    runs_luminate,
)
from tests.e2e.server import LuminateProcess

DATABASE = "luminate_rollout"
START_TIMEOUT_S = 60.0
MIN_PER_PROCESS = 10
# How long the endpoints change takes to reach the proxies; the preStop sleep must cover it.
PROPAGATION_S = 3.0
# Open-loop traffic through the balancer, which spends a few ms of CPU per request itself;
# modest, since the drill shares two cores with the four ClickHouse servers and ZooKeeper.
TRAFFIC = ("--write-rate", "8", "--query-rate", "4", "--batch-size", "50", "--tenants", "3",
           "--warmup", "0", "--duration", "10m", "--threshold", "errors<=0%")  # fmt: skip


@dataclass(frozen=True)
class Production:
    """The rollout-relevant settings of the production overlay, as kustomize renders them."""

    period_s: float
    probe_timeout_s: float
    failure_threshold: int
    prestop_s: float
    grace_s: float
    max_surge: int
    max_unavailable: int
    shutdown_delay_s: str
    shutdown_timeout_s: str


def production() -> Production:
    try:
        manifests = build("production")
    except KubectlMissing as e:
        pytest.fail(str(e))
    deployment = find(manifests, "Deployment", "luminate").doc
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if runs_luminate(c))
    probe = container["readinessProbe"]
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    config = configmap_data(manifests, "luminate-config")
    return Production(
        period_s=float(probe["periodSeconds"]),
        probe_timeout_s=float(probe["timeoutSeconds"]),
        failure_threshold=int(probe["failureThreshold"]),
        prestop_s=float(container["lifecycle"]["preStop"]["sleep"]["seconds"]),
        grace_s=float(pod["terminationGracePeriodSeconds"]),
        max_surge=int(rolling["maxSurge"]),
        max_unavailable=int(rolling["maxUnavailable"]),
        shutdown_delay_s=config["LUMINATE_SHUTDOWN_DELAY_SECONDS"],
        shutdown_timeout_s=config["LUMINATE_SHUTDOWN_TIMEOUT_SECONDS"],
    )


@pytest.fixture(scope="module")
def prod() -> Production:
    settings = production()
    # roll_out() below is the RollingUpdate of exactly this strategy.
    assert (settings.max_surge, settings.max_unavailable) == (1, 0), settings
    return settings


@pytest.fixture(scope="module")
def migrated(clickhouse_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """The schema is in place before any process starts, as the migration Job leaves it."""
    base = tmp_path_factory.mktemp("rollout-migrate")
    env = cluster_env(clickhouse_cluster, DATABASE)
    LuminateProcess(base / "unused", base / "migrate.log", env).migrate()
    return clickhouse_cluster


@dataclass
class Pods:
    """`luminate serve` processes started like pods: not waited for; the balancer's readiness
    probes decide when they take traffic. Every one is killed (by PID) at the end."""

    base: Path
    server: Cluster
    env: dict[str, str]
    started: dict[str, LuminateProcess] = field(default_factory=dict)
    created_at: dict[str, float] = field(default_factory=dict)

    def create(self, name: str) -> LuminateProcess:
        proc = LuminateProcess(self.base / f"{name}-data", self.base / f"{name}.log", self.env)
        self.created_at[name] = time.monotonic()
        self.started[name] = proc.launch()
        return proc

    def log_tail(self, name: str) -> str:
        return self.started[name].log_path.read_text()[-3000:]

    def kill_all(self) -> None:
        for proc in self.started.values():
            proc.kill()


@dataclass
class Rig:
    pods: Pods
    prod: Production
    background: BackgroundLoop
    balancers: list[Balancer] = field(default_factory=list)

    def balancer(self, *, propagation_s: float = 0.0, remove_on_terminate: bool = True) -> Balancer:
        balancer = Balancer(
            self.background,
            period_s=self.prod.period_s,
            failure_threshold=self.prod.failure_threshold,
            probe_timeout_s=self.prod.probe_timeout_s,
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


def pod_env(
    server: Cluster, prod: Production, *, shutdown_delay: str | None = None
) -> dict[str, str]:
    return {
        **cluster_env(server, DATABASE),
        "LUMINATE_SHUTDOWN_DELAY_SECONDS": shutdown_delay or prod.shutdown_delay_s,
        "LUMINATE_SHUTDOWN_TIMEOUT_SECONDS": prod.shutdown_timeout_s,
    }


@pytest.fixture
def rig(migrated: Cluster, prod: Production, tmp_path: Path) -> Iterator[Rig]:
    pods = Pods(tmp_path, migrated, pod_env(migrated, prod))
    try:
        with BackgroundLoop() as background:
            rig = Rig(pods, prod, background)
            try:
                yield rig
            finally:
                for balancer in rig.balancers:
                    background.call(balancer.close())
    finally:
        pods.kill_all()


def wait_exit(proc: LuminateProcess, timeout_s: float) -> tuple[int | None, float]:
    assert proc.proc is not None
    began = time.monotonic()
    try:
        code: int | None = proc.proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic() - began


def served(balancer: Balancer, name: str) -> int:
    return sum(balancer.endpoints[name].served.values())


@dataclass
class Termination:
    """One old pod's end: deleted, preStop, SIGTERM, exit."""

    deleted_at: float
    sigterm_at: float = 0.0
    exit_code: int | None = None
    seconds_after_sigterm: float = 0.0
    served_while_terminating: int = 0


def terminate(rig: Rig, balancer: Balancer, name: str, out: Termination) -> None:
    """What the kubelet does with a deleted pod: preStop, SIGTERM, SIGKILL at the grace end."""
    before = served(balancer, name)
    balancer.terminate(name)
    time.sleep(rig.prod.prestop_s)  # the process still serves meanwhile
    out.sigterm_at = time.monotonic()
    proc = rig.pods.started[name]
    proc.signal(signal.SIGTERM)
    out.exit_code, out.seconds_after_sigterm = wait_exit(
        proc, rig.prod.grace_s - rig.prod.prestop_s
    )
    if out.exit_code is None:
        proc.kill()
    out.served_while_terminating = served(balancer, name) - before
    balancer.forget(name)


def roll_out(rig: Rig, balancer: Balancer, count: int) -> dict[str, Termination]:
    """The RollingUpdate with maxSurge 1, maxUnavailable 0: old-i is replaced by new-i."""
    ends: dict[str, Termination] = {}
    threads = []
    for i in range(count):
        rig.bring_up(balancer, [f"new-{i}"])  # surge: the new pod first, Ready before going on
        old = f"old-{i}"
        ends[old] = Termination(deleted_at=time.monotonic())
        thread = threading.Thread(target=terminate, args=(rig, balancer, old, ends[old]))
        thread.start()  # the old pod terminates while the next new one starts
        threads.append(thread)
    for thread in threads:
        thread.join(rig.prod.grace_s + 30)
    return ends


def failures(run_summary: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        name: {k: v for k, v in s["statuses"].items() if not k.startswith("2")}
        for name, s in run_summary["scenarios"].items()
    }


def test_rolling_update_under_load_fails_no_request_and_stores_every_point_once(
    rig: Rig, tmp_path: Path
) -> None:
    prod = rig.prod
    balancer = rig.balancer(propagation_s=PROPAGATION_S)
    rig.bring_up(balancer, ["old-0", "old-1", "old-2"])
    traffic = start_loadtest(balancer.url, tmp_path / "load", *TRAFFIC)
    time.sleep(5.0)  # load on the old processes before the rollout
    began = time.monotonic()
    ends = roll_out(rig, balancer, 3)
    rollout_s = time.monotonic() - began
    time.sleep(3.0)  # and on the new ones after it
    run = finish_loadtest(traffic, tmp_path / "load", interrupt=True, timeout_s=120)

    summary = run.summary
    assert summary, run.stderr
    per_pod = {name: served(balancer, name) for name in rig.pods.started}
    figures = {
        "production": prod.__dict__,
        "requests": summary["all"]["requests"],
        "writes": summary["scenarios"]["write"]["requests"],
        "queries": summary["scenarios"]["query"]["requests"],
        "failures": failures(summary),
        "points_acknowledged": summary["acknowledged"]["points"],
        "requests_per_process": per_pod,
        "served_while_terminating": {n: e.served_while_terminating for n, e in ends.items()},
        "exit_code_and_seconds_after_sigterm": {
            n: (e.exit_code, round(e.seconds_after_sigterm, 1)) for n, e in ends.items()
        },
        "rollout_seconds": round(rollout_s, 1),
    }
    print(figures)
    print(run.stdout)

    assert run.exit_code == 0, run.stdout + run.stderr
    assert failures(summary) == {"write": {}, "query": {}}
    assert summary["all"]["errors"] == 0 and summary["all"]["no_answer"] == {}
    assert balancer.no_endpoint == 0
    stored = recount(rig.pods.server, DATABASE, summary["run"]["run_id"])
    wrong = {k: (n, stored.get(k)) for k, n in run.ledger.items() if stored.get(k) != n}
    assert wrong == {}, f"{len(wrong)} acknowledged batches not stored exactly once: {wrong}"
    assert set(stored) == set(run.ledger), "a batch nobody acknowledged was stored"
    for name, end in ends.items():
        assert end.exit_code == 0, f"{name} exit code {end.exit_code}:\n{rig.pods.log_tail(name)}"
        # The kubelet kills what still runs when the grace period ends.
        assert end.seconds_after_sigterm <= prod.grace_s - prod.prestop_s, (name, end)
    # Not vacuous: every process, old and new, served the load.
    assert all(n >= MIN_PER_PROCESS for n in per_pod.values()), per_pod
    assert figures["writes"] >= 200 and figures["queries"] >= 100, figures
    # Old processes took requests after being marked Terminating, until the change reached the
    # balancer: the preStop sleep is what kept those from failing.
    assert all(e.served_while_terminating > 0 for e in ends.values()), figures
    # maxSurge 1 with a Terminating pod out of the count: each next new process was created
    # while the previous old one was still in its preStop sleep.
    for i in range(2):
        assert rig.pods.created_at[f"new-{i + 1}"] < ends[f"old-{i}"].sigterm_at, figures


def test_without_prestop_a_probe_only_balancer_sends_requests_to_a_stopped_process(
    rig: Rig, tmp_path: Path
) -> None:
    # Neither protection: no preStop sleep, no shutdown delay, and a balancer that notices a
    # stopping process only by its failing probes.
    rig.pods.env = pod_env(rig.pods.server, rig.prod, shutdown_delay="0")
    balancer = rig.balancer(remove_on_terminate=False)
    rig.bring_up(balancer, ["old-0", "old-1"])
    traffic = start_loadtest(balancer.url, tmp_path / "load", *TRAFFIC)
    time.sleep(3.0)
    rig.bring_up(balancer, ["new-0"])
    balancer.terminate("old-0")
    rig.pods.started["old-0"].signal(signal.SIGTERM)
    code, _ = wait_exit(rig.pods.started["old-0"], rig.prod.grace_s)
    balancer.wait_out_of_rotation("old-0", rig.prod.period_s * (rig.prod.failure_threshold + 2))
    time.sleep(1.0)
    run = finish_loadtest(traffic, tmp_path / "load", interrupt=True, timeout_s=120)

    summary = run.summary
    print({"requests": summary["all"]["requests"], "failures": failures(summary), "exit": code})
    assert code == 0  # the process shut down cleanly; the routing was wrong
    assert run.exit_code == 1 and "threshold breached: errors<=0%" in run.stderr
    failed = failures(summary)
    assert {s for f in failed.values() for s in f} == {"502"}, failed
    # Every failure was a request the balancer sent to the stopped process.
    assert sum(f.get("502", 0) for f in failed.values()) == balancer.endpoints["old-0"].errors
    assert all(balancer.endpoints[n].errors == 0 for n in ("old-1", "new-0"))
    # Refused requests never reached storage: whatever was acknowledged is stored, once.
    stored = recount(rig.pods.server, DATABASE, summary["run"]["run_id"])
    assert all(stored.get(k) == n for k, n in run.ledger.items())
