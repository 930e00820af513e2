"""What a cluster command is told by its environment (every variable optional)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from testbed.clickhouse.error import ClusterError
from testbed.clickhouse.layout import TOPOLOGIES, ZK_SIZES
from testbed.clickhouse.servers import Binaries

DEFAULT_DIR = "/tmp/luminate-clickhouse-cluster"  # noqa: S108 - an operator's scratch cluster

ENVIRONMENT = f"""\
environment (all optional):
  CLUSTER_DIR   where configs, data, logs and PID files go  (default {DEFAULT_DIR})
  TOPOLOGY      2x2 | single                                 (default 2x2; read by `up`)
  ZK_NODES      3 | 1                                        (default 3; read by `up`)
  PORT_BASE     first port of a block of 100 to use          (default: a random free block)
  WAIT_SECONDS  how long to wait for a process to answer     (default 60)
  STOP_SECONDS  how long a stopped process gets before SIGKILL (default 20)
  CH_BIN, CH_CLIENT, ZK_JAR                                  binaries (Debian's paths by default)
"""


@dataclass(frozen=True)
class Settings:
    base_dir: Path
    topology: str = "2x2"
    zk_nodes: int = 3
    port_base: int | None = None
    wait_seconds: float = 60.0
    stop_seconds: float = 20.0
    binaries: Binaries = field(default_factory=Binaries)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        topology = env.get("TOPOLOGY") or "2x2"
        if topology not in TOPOLOGIES:
            raise ClusterError(f"TOPOLOGY must be one of {', '.join(TOPOLOGIES)}, not {topology!r}")
        given = _int(env, "ZK_NODES")
        zk_nodes = 3 if given is None else given
        if zk_nodes not in ZK_SIZES:
            raise ClusterError(f"ZK_NODES must be 3 or 1, not {zk_nodes}")
        port_base = _int(env, "PORT_BASE")
        return cls(
            base_dir=Path(os.path.realpath(env.get("CLUSTER_DIR") or DEFAULT_DIR)),
            topology=topology,
            zk_nodes=zk_nodes,
            port_base=port_base,
            wait_seconds=_seconds(env, "WAIT_SECONDS", 60.0),
            stop_seconds=_seconds(env, "STOP_SECONDS", 20.0),
            binaries=Binaries.from_env(env),
        )


def _int(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ClusterError(f"{name} must be a whole number, not {text!r}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ClusterError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 < value <= 3600:  # also refuses nan and inf
        raise ClusterError(f"{name} must be between 0 and 3600 seconds, not {text!r}")
    return value
