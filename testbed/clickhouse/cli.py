"""A loopback ClickHouse cluster for tests, rendered from the same templates as production: a
ZooKeeper ensemble (3 nodes, or 1) and luminate_cluster (2 shards x 2 replicas, or one server).
Every listener is on 127.0.0.1, on free non-default ports."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

from testbed.clickhouse.cluster import INSTALL_HINT, LoopbackCluster
from testbed.clickhouse.error import ClusterError
from testbed.clickhouse.progress import PREFIX, Progress
from testbed.clickhouse.settings import ENVIRONMENT, Settings

EXIT_ERROR = 1
EXIT_MISSING = 3
EXIT_INTERRUPTED = 130

COMMANDS = """\
commands:
  up                  render a fresh cluster under $CLUSTER_DIR, start it, wait until all answers
  down [--purge]      stop what `up` started there (by PID); --purge also deletes the directory
  status              each process, its PID and ports
  start-node N        start clickhouse-N again (N is the ordinal: 0..3)
  stop-node N         stop clickhouse-N (SIGTERM)
  kill-node N         kill clickhouse-N (SIGKILL)
  zk-stop [K]         stop every ZooKeeper node, or zookeeper-K
  zk-start [K]        start them again and wait until they serve
  check               exit 3, naming what is missing, unless everything needed is installed
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.clickhouse",
        description=__doc__,
        epilog=COMMANDS + "\n" + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="one of the commands below"
    )
    commands.add_parser("up")
    down = commands.add_parser("down")
    down.add_argument("--purge", action="store_true", help="also delete the cluster directory")
    commands.add_parser("status")
    for name in ("start-node", "stop-node", "kill-node"):
        commands.add_parser(name).add_argument("N", type=int, help="ordinal of clickhouse-N")
    for name in ("zk-stop", "zk-start"):
        zk = commands.add_parser(name)
        zk.add_argument("K", type=int, nargs="?", help="ordinal of zookeeper-K (default: all)")
    commands.add_parser("check")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ if environ is None else environ)
        if args.command == "check":
            return _check(settings)
        cluster = LoopbackCluster(settings, Progress(sys.stdout))
        match args.command:
            case "up":
                cluster.up()
            case "down":
                cluster.down(purge=args.purge)
            case "status":
                cluster.status()
            case "start-node":
                cluster.start_node(args.N)
            case "stop-node":
                cluster.stop_node(args.N)
            case "kill-node":
                cluster.kill_node(args.N)
            case "zk-stop":
                cluster.zk_stop(args.K)
            case "zk-start":
                cluster.zk_start(args.K)
    except (ClusterError, OSError, subprocess.SubprocessError) as e:
        print(f"[{PREFIX}] ERROR: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # `up` has stopped what it started by now
        print(f"[{PREFIX}] interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _check(settings: Settings) -> int:
    missing = settings.binaries.missing()
    if missing:
        print(f"missing: {' '.join(missing)}", file=sys.stderr)
        print(INSTALL_HINT, file=sys.stderr)
        return EXIT_MISSING
    print("everything needed is installed")
    return 0
