"""A loopback ClickHouse cluster for tests, run by scripts/clickhouse-cluster.sh.

The script renders the cluster from deployments/clickhouse/ (the templates production ships) and
starts, stops and kills its processes by PID; this module calls it and reads the cluster.json the
renderer leaves in the base directory. Nothing here starts a process by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from clickhouse_driver import Client

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "clickhouse-cluster.sh"

Topology = Literal["2x2", "single"]


class ClusterError(RuntimeError):
    """The cluster script failed; the message carries its output, log tails included."""


def missing_dependencies() -> list[str]:
    """What the cluster needs and this machine lacks (binaries, Java, ZooKeeper); empty if none."""
    result = subprocess.run(
        [str(SCRIPT), "check"], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode == 0:
        return []
    for line in result.stderr.splitlines():
        if line.startswith("missing: "):
            return line.removeprefix("missing: ").split()
    raise ClusterError(f"{SCRIPT.name} check failed:\n{result.stdout}{result.stderr}")


def _run_script(base_dir: Path, args: list[str], env: dict[str, str], timeout: float) -> str:
    try:
        result = subprocess.run(
            [str(SCRIPT), *args],
            env={**os.environ, "CLUSTER_DIR": str(base_dir), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise ClusterError(f"{SCRIPT.name} {' '.join(args)} took over {timeout:.0f}s") from e
    if result.returncode != 0:
        raise ClusterError(
            f"{SCRIPT.name} {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


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

    @classmethod
    def start(
        cls,
        base_dir: Path,
        topology: Topology = "2x2",
        zk_nodes: int = 3,
        *,
        install: bool = False,
        timeout: float = 300.0,
    ) -> Cluster:
        """Render a fresh cluster under base_dir and start it; returns once every node answers.

        With install=True (root only) missing Debian packages are installed first. On failure the
        script has already stopped whatever it started.
        """
        began = time.monotonic()
        output = _run_script(
            base_dir,
            ["up", "--install"] if install else ["up"],
            {"TOPOLOGY": topology, "ZK_NODES": str(zk_nodes)},
            timeout,
        )
        elapsed = time.monotonic() - began
        described: dict[str, Any] = json.loads((base_dir / "cluster.json").read_text())
        return cls(
            base_dir=base_dir,
            topology=topology,
            cluster_name=described["cluster_name"],
            hosts=[f"127.0.0.1:{n['tcp_port']}" for n in described["nodes"]],
            http_ports=[n["http_port"] for n in described["nodes"]],
            zookeeper_hosts=[f"127.0.0.1:{z['client_port']}" for z in described["zookeeper"]],
            user=described["user"],
            password=described["password"],
            startup_seconds=elapsed,
            startup_log=output,
        )

    @property
    def tcp_ports(self) -> list[int]:
        return [int(h.rsplit(":", 1)[1]) for h in self.hosts]

    def kill_node(self, i: int) -> None:
        """SIGKILL clickhouse-i: no shutdown, its ZooKeeper session lingers until it expires."""
        self._script("kill-node", str(i))

    def stop_node(self, i: int) -> None:
        self._script("stop-node", str(i))

    def start_node(self, i: int) -> None:
        """Start clickhouse-i again on its old data; returns once it answers /ping."""
        self._script("start-node", str(i))

    def stop_zookeeper(self, k: int | None = None) -> None:
        """Stop every ZooKeeper node, or zookeeper-k."""
        self._script("zk-stop", *([] if k is None else [str(k)]))

    def start_zookeeper(self, k: int | None = None) -> None:
        """Start them again; returns once they serve."""
        self._script("zk-start", *([] if k is None else [str(k)]))

    def stop(self) -> None:
        """Stop every process of the cluster (by the PIDs the script recorded); data is kept."""
        self._script("down", timeout=120.0)

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

    def _script(self, *args: str, timeout: float = 120.0) -> None:
        _run_script(self.base_dir, list(args), {}, timeout)
