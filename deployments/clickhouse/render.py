#!/usr/bin/env python3
"""Render Luminate's ClickHouse configuration for one topology.

`templates/config.xml` is the single source of the server settings. Rendered for the production
topology it is the `config.xml` shipped next to this file (`check` fails when the two differ);
rendered for a loopback topology it configures the nodes of the local test cluster, which then
differ from production only in host names, ports, paths and the ZooKeeper session timeout.
`macros.xml` and `users.xml` hold nothing topology-specific and are used unchanged by both.

    render.py production [--out DIR]   write config.xml for production (default: next to this file)
    render.py check                    exit 1, naming file and field, when a shipped file drifted
    render.py local --dir DIR [--topology 2x2|single] [--zk-nodes 3|1] [--port-base N]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import socket
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
CLUSTER_NAME = "luminate_cluster"
RENDERED = "config.xml"
TOPOLOGY_FREE = ("macros.xml", "users.xml")
TOPOLOGIES = {"2x2": (2, 2), "single": (1, 1)}  # name -> (shards, replicas per shard)

PRODUCTION_ZK_SESSION_TIMEOUT_MS = 30_000
# A replica killed with -9 replicates again only once its old session has expired.
LOCAL_ZK_SESSION_TIMEOUT_MS = 4_000

# Local port layout inside a block of 100 starting at the port base.
_CH_PORTS = ("tcp", "http", "interserver_http", "prometheus")
_ZK_PORTS = ("client", "peer", "election")
_ZK_OFFSET = 60
_PORT_BASES = range(20_000, 32_000, 100)  # below Linux's ephemeral range, far from the defaults

_SHARD = """\
            <shard>
                <!-- shard $number -->
                <internal_replication>true</internal_replication>
$replicas            </shard>
"""
_REPLICA = """\
                <replica>
                    <host>$host</host>
                    <port>$port</port>
                    <user>luminate</user>
                    <password from_env="CLICKHOUSE_LUMINATE_PASSWORD"/>
                </replica>
"""
_ZK_NODE = """\
        <node>
            <host>$host</host>
            <port>$port</port>
        </node>
"""
_PRODUCTION_HEADER = """\
  Luminate's ClickHouse server settings, mounted into /etc/clickhouse-server/config.d/ of every
  clickhouse-N pod. Generated from templates/config.xml by `render.py production`: edit the
  template and re-render (`render.py check` and the tests fail when the two differ)."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class Topology:
    """What the cluster looks like from any one server; identical for all servers of it."""

    shards: tuple[tuple[Endpoint, ...], ...]
    zookeeper: tuple[Endpoint, ...]
    zookeeper_session_timeout_ms: int
    cluster_name: str = CLUSTER_NAME


@dataclass(frozen=True)
class NodeFiles:
    """Where one server keeps its data and logs, and its Prometheus port."""

    data_path: str
    log_dir: str
    prometheus_port: int


PRODUCTION_NODE = NodeFiles("/var/lib/clickhouse/", "/var/log/clickhouse-server/", 9363)


def production_topology(shards: int = 2, replicas: int = 2, zk_nodes: int = 3) -> Topology:
    """StatefulSet pods clickhouse-N behind the clickhouse-headless service, ordinal by shard."""
    return Topology(
        shards=tuple(
            tuple(
                Endpoint(f"clickhouse-{s * replicas + r}.clickhouse-headless", 9000)
                for r in range(replicas)
            )
            for s in range(shards)
        ),
        zookeeper=tuple(
            Endpoint(f"zookeeper-{k}.zookeeper-headless", 2181) for k in range(zk_nodes)
        ),
        zookeeper_session_timeout_ms=PRODUCTION_ZK_SESSION_TIMEOUT_MS,
    )


def render_config(topology: Topology, node: NodeFiles, header: str) -> str:
    shards = "".join(
        Template(_SHARD).substitute(
            number=number,
            replicas="".join(
                Template(_REPLICA).substitute(host=e.host, port=e.port) for e in replicas
            ),
        )
        for number, replicas in enumerate(topology.shards, start=1)
    )
    zookeeper = "".join(
        Template(_ZK_NODE).substitute(host=e.host, port=e.port) for e in topology.zookeeper
    )
    return _fill(
        TEMPLATES / RENDERED,
        header=header,
        cluster_name=topology.cluster_name,
        shards=shards,
        zookeeper_nodes=zookeeper,
        zookeeper_session_timeout_ms=topology.zookeeper_session_timeout_ms,
        data_path=node.data_path,
        log_dir=node.log_dir,
        prometheus_port=node.prometheus_port,
    )


def render_production() -> dict[str, str]:
    """The shipped files, as the templates produce them for the production topology."""
    files = {RENDERED: render_config(production_topology(), PRODUCTION_NODE, _PRODUCTION_HEADER)}
    for name in TOPOLOGY_FREE:
        files[name] = (HERE / name).read_text()
    return files


def _fill(template: Path, **values: object) -> str:
    return Template(template.read_text()).substitute({k: str(v) for k, v in values.items()})


# ---------------------------------------------------------------- drift


@dataclass(frozen=True)
class Difference:
    file: str
    field: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: expected {self.expected!r}, found {self.actual!r}"


def parse_xml(text: str) -> ET.Element:
    """Parse one of this repository's own configuration files (never outside input)."""
    return ET.fromstring(text)  # noqa: S314 - trusted, checked-in files only


def diff_xml(file: str, expected: str, actual: str) -> list[Difference]:
    """Element-by-element differences (tags, attributes, text; comments and layout ignored)."""
    out: list[Difference] = []
    _diff_element(file, parse_xml(expected), parse_xml(actual), "", out)
    return out


def _diff_element(
    file: str, want: ET.Element, got: ET.Element, path: str, out: list[Difference]
) -> None:
    here = path or want.tag
    if want.tag != got.tag:
        out.append(Difference(file, here, f"<{want.tag}>", f"<{got.tag}>"))
        return
    for key in sorted(set(want.attrib) | set(got.attrib)):
        if want.get(key) != got.get(key):
            out.append(Difference(file, f"{here}/@{key}", str(want.get(key)), str(got.get(key))))
    if (want.text or "").strip() != (got.text or "").strip():
        out.append(Difference(file, here, (want.text or "").strip(), (got.text or "").strip()))
    wanted, found = _children(want), _children(got)
    for name in wanted.keys() | found.keys():
        child_path = f"{path}/{name}" if path else name
        if name not in found:
            out.append(Difference(file, child_path, "present", "missing"))
        elif name not in wanted:
            out.append(Difference(file, child_path, "absent", "present"))
        else:
            _diff_element(file, wanted[name], found[name], child_path, out)


def _children(element: ET.Element) -> dict[str, ET.Element]:
    """Children by name; repeated tags are numbered from 1 (`shard[2]`)."""
    counts: dict[str, int] = {}
    for child in element:
        counts[child.tag] = counts.get(child.tag, 0) + 1
    seen: dict[str, int] = {}
    named: dict[str, ET.Element] = {}
    for child in element:
        seen[child.tag] = seen.get(child.tag, 0) + 1
        name = child.tag if counts[child.tag] == 1 else f"{child.tag}[{seen[child.tag]}]"
        named[name] = child
    return named


def check_shipped(deploy_dir: Path = HERE) -> list[Difference]:
    """How the shipped files differ from what the templates render for production."""
    differences: list[Difference] = []
    for name, rendered in render_production().items():
        shipped_path = deploy_dir / name
        if not shipped_path.exists():
            differences.append(Difference(name, "(file)", "present", "missing"))
            continue
        shipped = shipped_path.read_text()
        if shipped == rendered:
            continue
        structural = diff_xml(name, rendered, shipped)
        if structural:
            differences.extend(structural)
        else:
            line = next(
                n
                for n, (a, b) in enumerate(
                    zip([*rendered.splitlines(), ""], [*shipped.splitlines(), ""], strict=False),
                    start=1,
                )
                if a != b
            )
            differences.append(Difference(name, f"(comments or layout, line {line})", "", ""))
    return differences


# ---------------------------------------------------------------- loopback cluster


@dataclass(frozen=True)
class LocalNode:
    ordinal: int
    name: str
    dir: str
    tcp_port: int
    http_port: int
    interserver_http_port: int
    prometheus_port: int


@dataclass(frozen=True)
class LocalZooKeeper:
    ordinal: int
    name: str
    dir: str
    client_port: int
    peer_port: int
    election_port: int


@dataclass(frozen=True)
class LocalCluster:
    """What `local` wrote under base_dir; saved as cluster.json for the scripts and tests."""

    base_dir: str
    topology: str
    cluster_name: str
    replicas_per_shard: int
    nodes: tuple[LocalNode, ...]
    zookeeper: tuple[LocalZooKeeper, ...]
    user: str
    password: str


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _block_ports(base: int, nodes: int, zk_nodes: int) -> list[int]:
    ch = [base + 4 * i + j for i in range(nodes) for j in range(len(_CH_PORTS))]
    zk = [base + _ZK_OFFSET + 3 * k + j for k in range(zk_nodes) for j in range(len(_ZK_PORTS))]
    return ch + zk


def choose_port_base(nodes: int, zk_nodes: int, port_base: int | None = None) -> int:
    """A block of free loopback ports: the given one, or a random free one."""
    if port_base is not None:
        busy = [p for p in _block_ports(port_base, nodes, zk_nodes) if not port_is_free(p)]
        if busy:
            raise RuntimeError(f"ports already in use on 127.0.0.1: {busy}")
        return port_base
    candidates = list(_PORT_BASES)
    random.shuffle(candidates)
    for base in candidates:
        if all(port_is_free(p) for p in _block_ports(base, nodes, zk_nodes)):
            return base
    raise RuntimeError("no free block of loopback ports between 20000 and 32000")


def render_local(
    base_dir: Path, topology: str = "2x2", zk_nodes: int = 3, port_base: int | None = None
) -> LocalCluster:
    """Write a loopback cluster's configuration under base_dir (which must hold no earlier one)."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {sorted(TOPOLOGIES)}, not {topology!r}")
    if zk_nodes not in {1, 3}:
        raise ValueError(f"zk_nodes must be 1 or 3, not {zk_nodes}")
    base_dir = base_dir.resolve()
    leftovers = sorted(p.name for p in base_dir.glob("clickhouse-*")) + sorted(
        p.name for p in base_dir.glob("zookeeper-*")
    )
    if leftovers:
        raise RuntimeError(f"{base_dir} still holds {leftovers}; remove the earlier cluster first")
    shards, replicas = TOPOLOGIES[topology]
    count = shards * replicas
    base = choose_port_base(count, zk_nodes, port_base)

    nodes = tuple(
        LocalNode(
            i,
            f"clickhouse-{i}",
            str(base_dir / f"clickhouse-{i}"),
            *range(base + 4 * i, base + 4 * i + 4),
        )
        for i in range(count)
    )
    keepers = tuple(
        LocalZooKeeper(
            k,
            f"zookeeper-{k}",
            str(base_dir / f"zookeeper-{k}"),
            *range(base + _ZK_OFFSET + 3 * k, base + _ZK_OFFSET + 3 * k + 3),
        )
        for k in range(zk_nodes)
    )
    layout = Topology(
        shards=tuple(
            tuple(Endpoint("127.0.0.1", nodes[s * replicas + r].tcp_port) for r in range(replicas))
            for s in range(shards)
        ),
        zookeeper=tuple(Endpoint("127.0.0.1", z.client_port) for z in keepers),
        zookeeper_session_timeout_ms=LOCAL_ZK_SESSION_TIMEOUT_MS,
    )
    cluster = LocalCluster(
        base_dir=str(base_dir),
        topology=topology,
        cluster_name=layout.cluster_name,
        replicas_per_shard=replicas,
        nodes=nodes,
        zookeeper=keepers,
        user="luminate",
        password=secrets.token_hex(16),
    )
    for node in nodes:
        _write_node(node, layout)
    for keeper in keepers:
        _write_zookeeper(keeper, keepers)
    _write_cluster_files(base_dir, cluster)
    return cluster


def _write_node(node: LocalNode, layout: Topology) -> None:
    d = Path(node.dir)
    for sub in ("config.d", "users.d", "data", "log"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    local = TEMPLATES / "local"
    files = NodeFiles(f"{d}/data/", f"{d}/log/", node.prometheus_port)
    header = f"  Rendered from templates/config.xml for {node.name} of the loopback test cluster."
    (d / "config.xml").write_text(
        _fill(
            local / "server.xml",
            tcp_port=node.tcp_port,
            http_port=node.http_port,
            interserver_http_port=node.interserver_http_port,
        )
    )
    (d / "users.xml").write_text((local / "users.xml").read_text())
    (d / "config.d" / RENDERED).write_text(render_config(layout, files, header))
    (d / "config.d" / "macros.xml").write_text((HERE / "macros.xml").read_text())
    (d / "users.d" / "users.xml").write_text((HERE / "users.xml").read_text())
    # Merged after users.xml (files merge in name order), so it re-adds what that one removes.
    (d / "users.d" / "zz-local-default-user.xml").write_text(
        (local / "default-user.xml").read_text()
    )


def _write_zookeeper(keeper: LocalZooKeeper, keepers: Sequence[LocalZooKeeper]) -> None:
    d = Path(keeper.dir)
    (d / "data").mkdir(parents=True, exist_ok=True)
    # Server ids follow pod-env.sh: zookeeper-K has id K+1 (its myid file is written from there).
    servers = (
        "\n".join(
            f"server.{z.ordinal + 1}=127.0.0.1:{z.peer_port}:{z.election_port}" for z in keepers
        )
        if len(keepers) > 1
        else ""
    )
    (d / "zoo.cfg").write_text(
        _fill(
            TEMPLATES / "local" / "zoo.cfg",
            data_dir=d / "data",
            client_port=keeper.client_port,
            servers=servers,
        )
    )


def _write_cluster_files(base_dir: Path, cluster: LocalCluster) -> None:
    (base_dir / "pids").mkdir(parents=True, exist_ok=True)
    description = base_dir / "cluster.json"
    description.touch(mode=0o600)
    description.write_text(json.dumps(asdict(cluster), indent=2) + "\n")
    env = {
        "CLUSTER_NAME": cluster.cluster_name,
        "CLICKHOUSE_REPLICAS_PER_SHARD": str(cluster.replicas_per_shard),
        "CH_NODES": str(len(cluster.nodes)),
        "CH_TCP_PORTS": " ".join(str(n.tcp_port) for n in cluster.nodes),
        "CH_HTTP_PORTS": " ".join(str(n.http_port) for n in cluster.nodes),
        "ZK_NODES": str(len(cluster.zookeeper)),
        "ZK_CLIENT_PORTS": " ".join(str(z.client_port) for z in cluster.zookeeper),
        "CLICKHOUSE_LUMINATE_PASSWORD": cluster.password,
    }
    env_file = base_dir / "cluster.env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}='{v}'\n" for k, v in env.items()))


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    production = commands.add_parser("production", help="write the shipped config.xml")
    production.add_argument("--out", type=Path, default=HERE)
    commands.add_parser("check", help="fail when the shipped files differ from the templates")
    local = commands.add_parser("local", help="write a loopback cluster's configuration")
    local.add_argument("--dir", type=Path, required=True)
    local.add_argument("--topology", choices=sorted(TOPOLOGIES), default="2x2")
    local.add_argument("--zk-nodes", type=int, choices=(1, 3), default=3)
    local.add_argument("--port-base", type=int)
    args = parser.parse_args(argv)

    if args.command == "production":
        for name, text in render_production().items():
            target = args.out / name
            if not target.exists() or target.read_text() != text:
                target.write_text(text)
                print(f"wrote {target}")
        return 0
    if args.command == "check":
        differences = check_shipped()
        for d in differences:
            print(d, file=sys.stderr)
        return 1 if differences else 0
    try:
        cluster = render_local(args.dir, args.topology, args.zk_nodes, args.port_base)
    except (RuntimeError, ValueError) as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 1
    print(f"rendered {cluster.topology} cluster in {cluster.base_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
