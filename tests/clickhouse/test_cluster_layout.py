"""The loopback cluster's layout (testbed/clickhouse/layout.py): rendered once, read back from the
very files the servers read, and refused when those files disagree or the ports are taken."""

from __future__ import annotations

import re
import socket
import stat
from pathlib import Path

import pytest

from testbed.clickhouse.error import ClusterError
from testbed.clickhouse.layout import (
    PASSWORD_FILE,
    choose_port_base,
    read_layout,
    render_layout,
)


@pytest.mark.parametrize(("topology", "zk_nodes"), [("2x2", 3), ("single", 1), ("2x2", 1)])
def test_a_layout_reads_back_as_rendered(tmp_path: Path, topology: str, zk_nodes: int) -> None:
    rendered = render_layout(tmp_path, topology, zk_nodes)
    assert read_layout(tmp_path) == rendered
    assert len(rendered.nodes) == (4 if topology == "2x2" else 1)
    assert len(rendered.zookeeper) == zk_nodes
    ports = rendered.ports()
    assert len(set(ports)) == len(ports), "every listener has a port of its own"
    assert all(20_000 <= p < 32_100 for p in ports)


def test_the_password_is_generated_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = render_layout(tmp_path / "a", "single", 1)
    second = render_layout(tmp_path / "b", "single", 1)
    assert re.fullmatch(r"[0-9a-f]{32}", first.password)
    assert first.password != second.password
    mode = stat.S_IMODE((tmp_path / "a" / PASSWORD_FILE).stat().st_mode)
    assert mode == 0o600


def test_reading_a_directory_without_a_cluster_says_so(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"no cluster in .* \(run 'up' first\)"):
        read_layout(tmp_path)


def test_a_config_that_disagrees_with_the_layout_is_named(tmp_path: Path) -> None:
    layout = render_layout(tmp_path, "2x2", 3)
    assert read_layout(tmp_path) == layout  # the control: untouched files read back
    config = layout.nodes[2].dir / "config.xml"
    port = layout.nodes[2].tcp_port
    config.write_text(config.read_text().replace(f">{port}<", f">{port + 1}<"))
    with pytest.raises(ClusterError, match=rf"clickhouse-2/config.xml: tcp_port is {port + 1}"):
        read_layout(tmp_path)


def test_a_given_port_base_is_refused_when_a_port_of_it_is_taken(tmp_path: Path) -> None:
    base = choose_port_base("single", 1)
    busy = base + 1  # the node's native port stays free, its HTTP port does not
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", busy))
        taken.listen()
        with pytest.raises(ClusterError, match=rf"ports already in use on 127.0.0.1: \[{busy}\]"):
            render_layout(tmp_path, "single", 1, port_base=base)
    assert not any(tmp_path.iterdir()), "nothing is written for a refused layout"


def test_an_earlier_cluster_is_not_rendered_over(tmp_path: Path) -> None:
    render_layout(tmp_path, "single", 1)
    with pytest.raises(ClusterError, match="still holds an earlier cluster"):
        render_layout(tmp_path, "single", 1)


@pytest.mark.parametrize(
    ("topology", "zk_nodes", "message"),
    [("3x3", 3, "TOPOLOGY must be one of 2x2, single, not '3x3'"), ("2x2", 2, "ZK_NODES")],
)
def test_unknown_shapes_are_refused(
    tmp_path: Path, topology: str, zk_nodes: int, message: str
) -> None:
    with pytest.raises(ClusterError, match=re.escape(message)):
        render_layout(tmp_path, topology, zk_nodes)
