"""The programs a loopback cluster runs, and the command line and environment of each node."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from testbed.clickhouse.layout import POD_ENV, Keeper, Layout, Node

# ZooKeeper logs nothing without an slf4j binding; Debian ships this one beside it.
ZK_LOG_JAR = Path("/usr/share/java/slf4j-simple.jar")
# Small heap, serial GC and the C1 compiler only: a test ensemble starts faster and stays small.
ZK_JVM_OPTIONS = ("-Xms32m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# What pod-env.sh runs besides a POSIX shell (the password hash).
POD_ENV_TOOLS = ("sha256sum", "cut")


@dataclass(frozen=True)
class Binaries:
    """Debian's paths unless CH_BIN, CH_CLIENT or ZK_JAR say otherwise."""

    clickhouse: Path = Path("/usr/sbin/clickhouse-server")
    client: Path = Path("/usr/bin/clickhouse-client")
    zookeeper_jar: Path = Path("/usr/share/java/zookeeper.jar")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Binaries:
        default = cls()
        return cls(
            Path(env.get("CH_BIN") or default.clickhouse),
            Path(env.get("CH_CLIENT") or default.client),
            Path(env.get("ZK_JAR") or default.zookeeper_jar),
        )

    def missing(self) -> list[str]:
        """What the cluster needs and this machine lacks, one name or path each; empty if none."""
        gaps = [str(b) for b in (self.clickhouse, self.client) if not os.access(b, os.X_OK)]
        if not self.zookeeper_jar.is_file():
            gaps.append(str(self.zookeeper_jar))
        gaps += [tool for tool in ("java", *POD_ENV_TOOLS) if shutil.which(tool) is None]
        return gaps


def zookeeper_command(binaries: Binaries, keeper: Keeper) -> list[str]:
    classpath = str(binaries.zookeeper_jar)
    if ZK_LOG_JAR.is_file():
        classpath += f":{ZK_LOG_JAR}"
    return [
        "java",
        *ZK_JVM_OPTIONS,
        "-Dzookeeper.admin.enableServer=false",
        "-cp",
        classpath,
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        str(keeper.dir / "zoo.cfg"),
    ]


def clickhouse_command(binaries: Binaries, node: Node) -> list[str]:
    """Started through pod-env.sh, which derives SHARD_ID and REPLICA_ID from the node's name
    exactly as in production, then execs the server (which keeps the PID)."""
    return [
        str(POD_ENV),
        "clickhouse",
        str(binaries.clickhouse),
        f"--config-file={node.dir / 'config.xml'}",
    ]


def clickhouse_env(layout: Layout, node: Node) -> dict[str, str]:
    return {
        **os.environ,
        "POD_NAME": node.name,
        "CLICKHOUSE_REPLICAS_PER_SHARD": str(layout.replicas_per_shard),
        "CLICKHOUSE_LUMINATE_PASSWORD": layout.password,
    }
