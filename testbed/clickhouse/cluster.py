"""The loopback cluster's processes: a ZooKeeper ensemble (3 nodes, or 1) and luminate_cluster
(2 shards x 2 replicas, or one server), started, checked, stopped and killed by their PIDs.

`up` renders a fresh layout and returns once ZooKeeper serves, every ClickHouse node answers and
every node sees ZooKeeper; if anything fails on the way, it stops what it started. The other
commands work from the files `up` left, so they may run in another process than `up`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from testbed.clickhouse import probes
from testbed.clickhouse.error import ClusterError
from testbed.clickhouse.layout import PASSWORD_FILE, Layout, read_layout, render_layout
from testbed.clickhouse.progress import Progress
from testbed.clickhouse.recorded import RecordedProcess, stop_all
from testbed.clickhouse.servers import (
    clickhouse_command,
    clickhouse_env,
    zookeeper_command,
)
from testbed.clickhouse.settings import Settings

_T = TypeVar("_T")

POLL_S = 0.05
FAILED_UP_GRACE_S = 5.0
INSTALL_HINT = "install them with scripts/setup-tools.sh (as root)"
CLUSTER_TABLE = (
    "SELECT cluster, shard_num, replica_num, host_address, port, is_local "
    "FROM system.clusters WHERE cluster = '{name}' FORMAT PrettyCompactNoEscapes"
)


class LoopbackCluster:
    def __init__(self, settings: Settings, progress: Progress) -> None:
        self.settings = settings
        self.base = settings.base_dir
        self.progress = progress
        self._layout: Layout | None = None
        self._processes: dict[str, RecordedProcess] = {}

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            self._layout = read_layout(self.base)
        return self._layout

    # ------------------------------------------------------------ commands

    def up(self, deadline: float | None = None) -> Layout:
        """Render a fresh cluster and start it; returns once every node answers.

        deadline (time.monotonic()) bounds the whole start, on top of WAIT_SECONDS per wait."""
        self.progress.restart()
        if missing := self.settings.binaries.missing():
            raise ClusterError(f"missing: {' '.join(missing)}; {INSTALL_HINT}")
        for pid_file in sorted((self.base / "pids").glob("*.pid")):
            if (pid := self._process(pid_file.stem).pid()) is not None:
                raise ClusterError(
                    f"{pid_file.stem} (pid {pid}) from an earlier run still runs; run 'down' first"
                )
        self._remove_earlier_cluster()
        s = self.settings
        self._layout = render_layout(self.base, s.topology, s.zk_nodes, s.port_base)
        try:
            return self._start(self._layout, deadline)
        except BaseException:
            self.progress.say("stopping what this run started")
            stop_all(self._everything(), signal.SIGKILL, FAILED_UP_GRACE_S, self.progress.say)
            raise

    def down(self, *, purge: bool = False) -> None:
        """Stop what `up` started here, by PID; purge also deletes the directory."""
        self.progress.restart()
        if (self.base / "pids").is_dir():
            self._stop(self._everything(), signal.SIGTERM)
        else:
            self.progress.say(f"nothing runs from {self.base}")
        if purge:
            # Only ever delete a directory that `up` created.
            if self.base.exists() and not (self.base / PASSWORD_FILE).is_file():
                raise ClusterError(f"{self.base} holds no {PASSWORD_FILE}; not deleting it")
            shutil.rmtree(self.base, ignore_errors=True)
            self.progress.say(f"removed {self.base}")

    def status(self) -> None:
        layout = self.layout
        for name in [z.name for z in layout.zookeeper] + [n.name for n in layout.nodes]:
            pid = self._process(name).pid()
            running = f"running (pid {pid})" if pid is not None else "stopped"
            self.progress.show(f"{name} {running}\n")
        self.progress.show(
            f"native ports: {' '.join(str(n.tcp_port) for n in layout.nodes)}; "
            f"http ports: {' '.join(str(n.http_port) for n in layout.nodes)}; "
            f"zookeeper ports: {' '.join(str(z.client_port) for z in layout.zookeeper)}\n"
        )

    def start_node(self, i: int) -> None:
        """Start clickhouse-i again on its old data; returns once it answers /ping."""
        self.progress.restart()
        self._node(i)
        self._start_clickhouse(i)
        self._wait_clickhouse(i, None)

    def stop_node(self, i: int) -> None:
        self.progress.restart()
        self._stop([self._process(self._node(i))], signal.SIGTERM)

    def kill_node(self, i: int) -> None:
        """SIGKILL: no shutdown, its ZooKeeper session lingers until it expires."""
        self.progress.restart()
        self._stop([self._process(self._node(i))], signal.SIGKILL)

    def zk_stop(self, k: int | None = None) -> None:
        self.progress.restart()
        self._stop([self._process(f"zookeeper-{o}") for o in self._keepers(k)], signal.SIGTERM)

    def zk_start(self, k: int | None = None) -> None:
        """Start every ZooKeeper node (or zookeeper-k) again; returns once they serve."""
        self.progress.restart()
        ordinals = self._keepers(k)
        for o in ordinals:
            self._start_zookeeper(o)
        for o in ordinals:
            self._wait_zookeeper(o, None)

    # ------------------------------------------------------------ starting

    def _start(self, layout: Layout, deadline: float | None) -> Layout:
        for keeper in layout.zookeeper:
            self._start_zookeeper(keeper.ordinal)
        for keeper in layout.zookeeper:
            self._wait_zookeeper(keeper.ordinal, deadline)
        # Not before: a ClickHouse 18.16 started while ZooKeeper cannot serve yet fails its first
        # distributed DDL and replicated inserts later on (tried: three cluster tests fail).
        for node in layout.nodes:
            self._start_clickhouse(node.ordinal)
        for node in layout.nodes:
            self._wait_clickhouse(node.ordinal, deadline)
        for node in layout.nodes:
            self._wait_sees_zookeeper(node.ordinal, deadline)
        self.progress.say(f"every server sees ZooKeeper; cluster {layout.cluster_name}:")
        self.progress.show(self._cluster_table(layout))
        self.progress.say(
            f"ready in {self.progress.elapsed():.2f}s ({layout.base_dir}; "
            "stop with: python -m testbed.clickhouse down)"
        )
        return layout

    def _start_zookeeper(self, k: int) -> None:
        keeper = self.layout.zookeeper[k]
        if not (keeper.dir / "zoo.cfg").is_file():
            raise ClusterError(f"no {keeper.dir}/zoo.cfg (run 'up' first)")
        self._process(keeper.name).start(
            zookeeper_command(self.settings.binaries, keeper),
            keeper.dir / "zookeeper.log",
            env=dict(os.environ),
            cwd=keeper.dir,
        )

    def _wait_zookeeper(self, k: int, deadline: float | None) -> None:
        keeper = self.layout.zookeeper[k]
        process = self._process(keeper.name)
        mode = self._wait(
            process,
            lambda: probes.zookeeper_mode(keeper.client_port),
            f"{keeper.name} did not serve on 127.0.0.1:{keeper.client_port}",
            [keeper.dir / "zookeeper.log"],
            deadline,
        )
        self.progress.say(
            f"{keeper.name} serves on 127.0.0.1:{keeper.client_port} ({mode}, pid {process.pid()})"
        )

    def _start_clickhouse(self, i: int) -> None:
        layout = self.layout
        node = layout.nodes[i]
        if not (node.dir / "config.xml").is_file():
            raise ClusterError(f"no {node.dir}/config.xml (run 'up' first)")
        self._process(node.name).start(
            clickhouse_command(self.settings.binaries, node),
            node.dir / "log" / "stdout.log",
            env=clickhouse_env(layout, node),
            cwd=node.dir,
        )

    def _wait_clickhouse(self, i: int, deadline: float | None) -> None:
        node = self.layout.nodes[i]
        process = self._process(node.name)
        logs = [node.dir / "log" / "stdout.log", node.dir / "log" / "clickhouse-server.err.log"]
        self._wait(
            process,
            lambda: probes.clickhouse_answers(node.http_port) or None,
            f"{node.name} did not answer /ping on 127.0.0.1:{node.http_port}",
            logs,
            deadline,
        )
        self.progress.say(
            f"{node.name} answers: native 127.0.0.1:{node.tcp_port}, "
            f"http 127.0.0.1:{node.http_port} (pid {process.pid()})"
        )

    def _wait_sees_zookeeper(self, i: int, deadline: float | None) -> None:
        node = self.layout.nodes[i]
        self._wait(
            self._process(node.name),
            lambda: probes.clickhouse_sees_zookeeper(node.tcp_port) or None,
            f"{node.name} cannot read ZooKeeper",
            [node.dir / "log" / "clickhouse-server.err.log"],
            deadline,
        )

    def _wait(
        self,
        process: RecordedProcess,
        ready: Callable[[], _T | None],
        failure: str,
        logs: Sequence[Path],
        deadline: float | None,
    ) -> _T:
        began = time.monotonic()
        limit = began + self.settings.wait_seconds
        if deadline is not None:
            limit = min(limit, deadline)
        while True:
            answer = ready()
            if answer is not None:
                return answer
            if process.pid() is None:
                raise ClusterError(f"{process.name} exited", logs)
            if time.monotonic() >= limit:
                raise ClusterError(f"{failure} within {limit - began:.0f}s", logs)
            time.sleep(POLL_S)

    def _cluster_table(self, layout: Layout) -> str:
        query = CLUSTER_TABLE.format(name=layout.cluster_name)
        argv = [str(self.settings.binaries.client), "--host", "127.0.0.1"]
        argv += ["--port", str(layout.nodes[0].tcp_port), "--query", query]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise ClusterError(f"{argv[0]} could not list the cluster: {result.stderr.strip()}")
        return result.stdout

    # ------------------------------------------------------------ stopping

    def _stop(self, processes: Sequence[RecordedProcess], sig: signal.Signals) -> None:
        # ClickHouse first, so that it does not spin on a vanished ZooKeeper while shutting down.
        for kind in ("clickhouse-", "zookeeper-"):
            group = [p for p in processes if p.name.startswith(kind)]
            if group:
                stop_all(group, sig, self.settings.stop_seconds, self.progress.say)

    def _everything(self) -> list[RecordedProcess]:
        """Every node that has a directory here, whether or not a layout can be read."""
        names = [
            d.name
            for prefix in ("clickhouse", "zookeeper")
            for d in sorted(self.base.glob(f"{prefix}-*"), key=_ordinal)
            if d.is_dir() and _ordinal(d) >= 0
        ]
        return [self._process(name) for name in names]

    def _remove_earlier_cluster(self) -> None:
        for d in self._everything():
            shutil.rmtree(d.dir)
        shutil.rmtree(self.base / "pids", ignore_errors=True)
        (self.base / PASSWORD_FILE).unlink(missing_ok=True)

    # ------------------------------------------------------------ names

    def _process(self, name: str) -> RecordedProcess:
        if name not in self._processes:
            self._processes[name] = RecordedProcess(name, self.base / name, self.base / "pids")
        return self._processes[name]

    def _node(self, i: int) -> str:
        count = len(self.layout.nodes)
        if not 0 <= i < count:
            raise ClusterError(f"no clickhouse-{i} (ordinals 0..{count - 1})")
        return f"clickhouse-{i}"

    def _keepers(self, k: int | None) -> list[int]:
        count = len(self.layout.zookeeper)
        if k is None:
            return list(range(count))
        if not 0 <= k < count:
            raise ClusterError(f"no zookeeper-{k} (ordinals 0..{count - 1})")
        return [k]


def _ordinal(d: Path) -> int:
    suffix = d.name.rsplit("-", 1)[1]
    return int(suffix) if suffix.isdigit() else -1
