"""A loopback ClickHouse cluster for tests, run in-process by testbed.clickhouse.

The cluster is rendered from deployments/clickhouse/ (the templates production ships); its
processes are started, stopped and killed by their recorded PIDs. `python -m testbed.clickhouse`
(or scripts/clickhouse-cluster.sh) drives the same code from a shell.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from testbed.clickhouse.cluster import LoopbackCluster
from testbed.clickhouse.error import ClusterError
from testbed.clickhouse.progress import Progress
from testbed.clickhouse.servers import Binaries
from testbed.clickhouse.settings import Settings

if TYPE_CHECKING:
    from clickhouse_driver import Client

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "clickhouse-cluster.sh"

Topology = Literal["2x2", "single"]

__all__ = ["REPO", "SCRIPT", "Cluster", "ClusterError", "Topology", "missing_dependencies"]


def missing_dependencies() -> list[str]:
    """What the cluster needs and this machine lacks (binaries, Java, ZooKeeper); empty if none."""
    return Binaries.from_env(os.environ).missing()


@dataclass
class Cluster:
    """A running cluster; nodes are addressed by ordinal (clickhouse-0 .. clickhouse-3)."""

    base_dir: Path
    topology: Topology
    cluster_name: str
    hosts: list[str]
    """Native-protocol endpoints ("127.0.0.1:port"), in ordinal order."""
    http_ports: list[int]
    zookeeper_hosts: list[str]
    user: str
    """The production user (`luminate`); its password is generated for each cluster."""
    password: str
    startup_seconds: float
    startup_log: str
    control: LoopbackCluster | None = field(default=None, repr=False, compare=False)
    """What starts and stops the processes; read back from base_dir when not given."""

    @classmethod
    def start(
        cls,
        base_dir: Path,
        topology: Topology = "2x2",
        zk_nodes: int = 3,
        *,
        timeout: float = 300.0,
    ) -> Cluster:
        """Render a fresh cluster under base_dir and start it; returns once every node answers
        and sees ZooKeeper. On failure whatever it started has been stopped again.

        Binary paths, WAIT_SECONDS and STOP_SECONDS come from the environment as for the
        command line; the ports are always a free block."""
        began = time.monotonic()
        output = io.StringIO()
        control = LoopbackCluster(_settings(base_dir, topology, zk_nodes), Progress(output))
        try:
            layout = control.up(deadline=began + timeout)
        except ClusterError as e:
            raise ClusterError(f"{e.message}\n{output.getvalue()}", e.logs) from e
        return cls(
            base_dir=base_dir,
            topology=topology,
            cluster_name=layout.cluster_name,
            hosts=[f"127.0.0.1:{n.tcp_port}" for n in layout.nodes],
            http_ports=[n.http_port for n in layout.nodes],
            zookeeper_hosts=[f"127.0.0.1:{z.client_port}" for z in layout.zookeeper],
            user=layout.user,
            password=layout.password,
            startup_seconds=time.monotonic() - began,
            startup_log=output.getvalue(),
            control=control,
        )

    @property
    def tcp_ports(self) -> list[int]:
        return [int(h.rsplit(":", 1)[1]) for h in self.hosts]

    def kill_node(self, i: int) -> None:
        """SIGKILL clickhouse-i: no shutdown, its ZooKeeper session lingers until it expires."""
        self._control().kill_node(i)

    def stop_node(self, i: int) -> None:
        self._control().stop_node(i)

    def start_node(self, i: int) -> None:
        """Start clickhouse-i again on its old data; returns once it answers /ping."""
        self._control().start_node(i)

    def stop_zookeeper(self, k: int | None = None) -> None:
        """Stop every ZooKeeper node, or zookeeper-k."""
        self._control().zk_stop(k)

    def start_zookeeper(self, k: int | None = None) -> None:
        """Start them again; returns once they serve."""
        self._control().zk_start(k)

    def stop(self) -> None:
        """Stop every process of the cluster (by the PIDs recorded at start); data is kept."""
        self._control().down()

    def client(self, i: int, *, user: str = "default", password: str = "") -> Client:
        """A native-protocol client of clickhouse-i (`default` is the local-only test user).

        The caller disconnects it (it is a context manager).
        """
        from clickhouse_driver import Client

        host, port = self.hosts[i].rsplit(":", 1)
        return Client(
            host=host,
            port=int(port),
            user=user,
            password=password,
            connect_timeout=5,
            send_receive_timeout=60,
        )

    def execute(
        self,
        i: int,
        query: str,
        params: Any = None,
        *,
        settings: dict[str, Any] | None = None,
        user: str = "default",
        password: str = "",
    ) -> list[tuple[Any, ...]]:
        """Run one statement on clickhouse-i over a connection of its own."""
        with self.client(i, user=user, password=password) as client:
            rows: list[tuple[Any, ...]] = client.execute(query, params, settings=settings)
            return rows

    def _control(self) -> LoopbackCluster:
        if self.control is None:
            self.control = LoopbackCluster(
                _settings(self.base_dir, self.topology, len(self.zookeeper_hosts)),
                Progress(io.StringIO()),
            )
        return self.control


def _settings(base_dir: Path, topology: Topology, zk_nodes: int) -> Settings:
    # Where and what to start is the caller's; ports are always a free block for tests.
    own = {"CLUSTER_DIR", "TOPOLOGY", "ZK_NODES", "PORT_BASE"}
    inherited = Settings.from_env({k: v for k, v in os.environ.items() if k not in own})
    return replace(
        inherited, base_dir=Path(os.path.realpath(base_dir)), topology=topology, zk_nodes=zk_nodes
    )
