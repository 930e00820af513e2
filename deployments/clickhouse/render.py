#!/usr/bin/env python3
"""Render Luminate's ClickHouse configuration for the production topology.

`templates/config.xml` is the single source of the server settings. Rendered for the production
topology it is the `config.xml` shipped next to this file (`check` fails when the two differ).
`macros.xml` and `users.xml` hold nothing topology-specific and are shipped as they are.
The loopback test cluster renders the same template for its own hosts, ports and paths
(testbed/clickhouse/layout.py), through `render_config` here.

    render.py production [--out DIR]   write config.xml for production (default: next to this file)
    render.py check                    exit 1, naming file and field, when a shipped file drifted
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
CLUSTER_NAME = "luminate_cluster"
RENDERED = "config.xml"
TOPOLOGY_FREE = ("macros.xml", "users.xml")

PRODUCTION_ZK_SESSION_TIMEOUT_MS = 30_000

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
    return fill(
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


def fill(template: Path, **values: object) -> str:
    """The template with every `$name` replaced (a missing value is an error, not a blank)."""
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


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    production = commands.add_parser("production", help="write the shipped config.xml")
    production.add_argument("--out", type=Path, default=HERE)
    commands.add_parser("check", help="fail when the shipped files differ from the templates")
    args = parser.parse_args(argv)

    if args.command == "production":
        for name, text in render_production().items():
            target = args.out / name
            if not target.exists() or target.read_text() != text:
                target.write_text(text)
                print(f"wrote {target}")
        return 0
    differences = check_shipped()
    for d in differences:
        print(d, file=sys.stderr)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
