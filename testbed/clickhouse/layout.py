"""The loopback cluster on disk: the ports, the directories and the configuration files of every
ClickHouse and ZooKeeper node, rendered from the templates production ships.

A layout follows from the cluster directory, the topology, the size of the ZooKeeper ensemble,
the first port of a block of 100 and a generated password. `render` picks a free block and writes
the files; `read` recovers the layout from those same files (the ones the servers read), so a
command run later from another process needs nothing else.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import socket
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from deployments.clickhouse import render
from testbed.clickhouse.error import ClusterError

TOPOLOGIES = {"2x2": (2, 2), "single": (1, 1)}  # name -> (shards, replicas per shard)
ZK_SIZES = (1, 3)
# A replica killed with -9 replicates again only once its old session has expired.
ZK_SESSION_TIMEOUT_MS = 4_000
USER = "luminate"
# Only `render` writes it; `down --purge` deletes no directory without it.
PASSWORD_FILE = "luminate-password"  # noqa: S105 - a file name, not a password
TEMPLATES = Path(__file__).resolve().parent / "templates"
POD_ENV = render.HERE / "pod-env.sh"

# Within the block: 4 ports per ClickHouse node from the base, 3 per ZooKeeper node from +60.
PORT_BASES = range(20_000, 32_000, 100)  # below Linux's ephemeral range, far from the defaults
_CH_STRIDE = 4
_ZK_OFFSET = 60
_ZK_STRIDE = 3


@dataclass(frozen=True)
class Node:
    """clickhouse-N: native, HTTP, interserver and Prometheus ports, all on 127.0.0.1."""

    ordinal: int
    name: str
    dir: Path
    tcp_port: int
    http_port: int
    interserver_http_port: int
    prometheus_port: int


@dataclass(frozen=True)
class Keeper:
    """zookeeper-K: client, peer and leader-election ports."""

    ordinal: int
    name: str
    dir: Path
    client_port: int
    peer_port: int
    election_port: int


@dataclass(frozen=True)
class Layout:
    base_dir: Path
    topology: str
    port_base: int
    nodes: tuple[Node, ...]
    zookeeper: tuple[Keeper, ...]
    password: str
    """Of the production user `luminate`, generated for each cluster."""
    user: str = USER
    cluster_name: str = render.CLUSTER_NAME

    @property
    def replicas_per_shard(self) -> int:
        return TOPOLOGIES[self.topology][1]

    @classmethod
    def plan(
        cls, base_dir: Path, topology: str, zk_nodes: int, port_base: int, password: str
    ) -> Layout:
        shards, replicas = _topology(topology)
        _zk_size(zk_nodes)
        base_dir = Path(os.path.realpath(base_dir))
        nodes = tuple(
            Node(i, f"clickhouse-{i}", base_dir / f"clickhouse-{i}", *_block(port_base, i))
            for i in range(shards * replicas)
        )
        keepers = tuple(
            Keeper(
                k,
                f"zookeeper-{k}",
                base_dir / f"zookeeper-{k}",
                *range(
                    port_base + _ZK_OFFSET + _ZK_STRIDE * k,
                    port_base + _ZK_OFFSET + _ZK_STRIDE * (k + 1),
                ),
            )
            for k in range(zk_nodes)
        )
        return cls(base_dir, topology, port_base, nodes, keepers, password)

    def ports(self) -> list[int]:
        return [
            *(p for n in self.nodes for p in _block(self.port_base, n.ordinal)),
            *(p for z in self.zookeeper for p in (z.client_port, z.peer_port, z.election_port)),
        ]

    def production_view(self) -> render.Topology:
        """luminate_cluster as every node of this layout sees it (the production render's input)."""
        replicas = self.replicas_per_shard
        shards = len(self.nodes) // replicas
        return render.Topology(
            shards=tuple(
                tuple(
                    render.Endpoint("127.0.0.1", self.nodes[s * replicas + r].tcp_port)
                    for r in range(replicas)
                )
                for s in range(shards)
            ),
            zookeeper=tuple(render.Endpoint("127.0.0.1", z.client_port) for z in self.zookeeper),
            zookeeper_session_timeout_ms=ZK_SESSION_TIMEOUT_MS,
            cluster_name=self.cluster_name,
        )


def _block(port_base: int, ordinal: int) -> tuple[int, int, int, int]:
    first = port_base + _CH_STRIDE * ordinal
    return first, first + 1, first + 2, first + 3


def _topology(name: str) -> tuple[int, int]:
    if name not in TOPOLOGIES:
        raise ClusterError(f"TOPOLOGY must be one of {', '.join(TOPOLOGIES)}, not {name!r}")
    return TOPOLOGIES[name]


def _zk_size(n: int) -> None:
    if n not in ZK_SIZES:
        raise ClusterError(f"ZK_NODES must be 3 or 1, not {n}")


# ---------------------------------------------------------------- ports


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port_base(topology: str, zk_nodes: int, port_base: int | None = None) -> int:
    """A block of free loopback ports: the given one, or a random free one."""

    def busy(base: int) -> list[int]:
        ports = Layout.plan(Path("/"), topology, zk_nodes, base, "").ports()
        return [p for p in ports if not port_is_free(p)]

    if port_base is not None:
        if not 1024 <= port_base <= 65_435:
            raise ClusterError(f"PORT_BASE must be between 1024 and 65435, not {port_base}")
        if taken := busy(port_base):
            raise ClusterError(f"ports already in use on 127.0.0.1: {taken}")
        return port_base
    candidates = list(PORT_BASES)
    random.shuffle(candidates)  # two clusters started at once rarely race for the same block
    for base in candidates:
        if not busy(base):
            return base
    raise ClusterError("no free block of loopback ports between 20000 and 32000")


# ---------------------------------------------------------------- files


def render_layout(
    base_dir: Path, topology: str = "2x2", zk_nodes: int = 3, port_base: int | None = None
) -> Layout:
    """Write a fresh cluster's configuration under base_dir (which must hold no earlier one)."""
    _topology(topology)
    _zk_size(zk_nodes)
    base_dir = Path(os.path.realpath(base_dir))
    leftovers = [p.name for kind in ("clickhouse", "zookeeper") for p in _numbered(base_dir, kind)]
    if leftovers or (base_dir / PASSWORD_FILE).exists():
        raise ClusterError(f"{base_dir} still holds an earlier cluster; remove it first")
    base = choose_port_base(topology, zk_nodes, port_base)
    layout = Layout.plan(base_dir, topology, zk_nodes, base, secrets.token_hex(16))
    base_dir.mkdir(parents=True, exist_ok=True)
    # Created first and readable by its owner only: it holds the production user's password.
    fd = os.open(base_dir / PASSWORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(layout.password + "\n")
    view = layout.production_view()
    for node in layout.nodes:
        _write_node(node, view)
    ids = {z.ordinal: _zookeeper_id(z.name) for z in layout.zookeeper}
    for keeper in layout.zookeeper:
        _write_keeper(keeper, layout.zookeeper, ids)
    return layout


def _write_node(node: Node, view: render.Topology) -> None:
    d = node.dir
    for sub in ("config.d", "users.d", "data", "log"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    files = render.NodeFiles(f"{d}/data/", f"{d}/log/", node.prometheus_port)
    header = f"  Rendered from templates/config.xml for {node.name} of the loopback test cluster."
    (d / "config.xml").write_text(
        render.fill(
            TEMPLATES / "server.xml",
            tcp_port=node.tcp_port,
            http_port=node.http_port,
            interserver_http_port=node.interserver_http_port,
        )
    )
    (d / "users.xml").write_text((TEMPLATES / "users.xml").read_text())
    (d / "config.d" / render.RENDERED).write_text(render.render_config(view, files, header))
    for shipped, target in (("macros.xml", "config.d"), ("users.xml", "users.d")):
        (d / target / shipped).write_text((render.HERE / shipped).read_text())
    # Merged after users.xml (files merge in name order), so it re-adds what that one removes.
    (d / "users.d" / "zz-local-default-user.xml").write_text(
        (TEMPLATES / "default-user.xml").read_text()
    )


def _write_keeper(keeper: Keeper, keepers: tuple[Keeper, ...], ids: dict[int, str]) -> None:
    d = keeper.dir
    (d / "data").mkdir(parents=True, exist_ok=True)
    servers = (
        "\n".join(
            f"server.{ids[z.ordinal]}=127.0.0.1:{z.peer_port}:{z.election_port}" for z in keepers
        )
        if len(keepers) > 1
        else ""
    )
    (d / "zoo.cfg").write_text(
        render.fill(
            TEMPLATES / "zoo.cfg",
            data_dir=d / "data",
            client_port=keeper.client_port,
            servers=servers,
        )
    )
    (d / "data" / "myid").write_text(f"{ids[keeper.ordinal]}\n")


def _zookeeper_id(name: str) -> str:
    """ZOO_MY_ID as pod-env.sh derives it in production, so the derivation is exercised here."""
    result = subprocess.run(
        [str(POD_ENV), "zookeeper"],
        env={**os.environ, "POD_NAME": name},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    found = re.search(r"^ZOO_MY_ID=(\d+)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or found is None:
        raise ClusterError(f"{POD_ENV} zookeeper for {name} failed: {result.stderr.strip()}")
    return found.group(1)


# ---------------------------------------------------------------- reading it back


def read_layout(base_dir: Path) -> Layout:
    """The layout `render_layout` wrote under base_dir, recovered from the files themselves."""
    base_dir = Path(os.path.realpath(base_dir))
    nodes = _numbered(base_dir, "clickhouse")
    keepers = _numbered(base_dir, "zookeeper")
    password_file = base_dir / PASSWORD_FILE
    if not nodes or not password_file.is_file():
        raise ClusterError(f"no cluster in {base_dir} (run 'up' first)")
    topology = next((t for t, (s, r) in TOPOLOGIES.items() if s * r == len(nodes)), None)
    if topology is None or len(keepers) not in ZK_SIZES:
        raise ClusterError(
            f"{base_dir} holds {len(nodes)} ClickHouse and {len(keepers)} ZooKeeper nodes, "
            "a layout this harness does not render"
        )
    port_base = _xml_int(nodes[0] / "config.xml", "tcp_port")
    layout = Layout.plan(
        base_dir, topology, len(keepers), port_base, password_file.read_text().strip()
    )
    for node in layout.nodes:
        config = node.dir / "config.xml"
        for tag, port in (("tcp_port", node.tcp_port), ("http_port", node.http_port)):
            _expect(config, tag, _xml_int(config, tag), port)
    for keeper in layout.zookeeper:
        zoo_cfg = keeper.dir / "zoo.cfg"
        _expect(zoo_cfg, "clientPort", _zoo_cfg_int(zoo_cfg, "clientPort"), keeper.client_port)
    return layout


def _expect(path: Path, key: str, found: int, wanted: int) -> None:
    if found != wanted:
        raise ClusterError(
            f"{path}: {key} is {found}, not {wanted} as the rest of the cluster says; "
            "run 'down' and 'up' again"
        )


def _numbered(base_dir: Path, prefix: str) -> list[Path]:
    """base_dir/prefix-0, prefix-1, ... in ordinal order."""
    found = {
        int(p.name.rsplit("-", 1)[1]): p
        for p in base_dir.glob(f"{prefix}-*")
        if p.is_dir() and re.fullmatch(rf"{prefix}-\d+", p.name)
    }
    if sorted(found) != list(range(len(found))):
        raise ClusterError(f"{base_dir}: {prefix} nodes {sorted(found)} are not numbered from 0")
    return [found[i] for i in range(len(found))]


def _xml_int(path: Path, tag: str) -> int:
    try:
        text = render.parse_xml(path.read_text()).findtext(tag)
        return int(text or "")
    except (OSError, ValueError, ET.ParseError) as e:
        raise ClusterError(f"{path}: no <{tag}> to read ({e})") from e


def _zoo_cfg_int(path: Path, key: str) -> int:
    try:
        found = re.search(rf"^{key}=(\d+)$", path.read_text(), re.MULTILINE)
    except OSError as e:
        raise ClusterError(f"{path}: {e}") from e
    if found is None:
        raise ClusterError(f"{path}: no {key}")
    return int(found.group(1))
