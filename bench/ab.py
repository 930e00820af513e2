"""`python -m bench.ab --baseline DIR`: ingest through this source tree against another one (a
checkout of an earlier commit, e.g. `git worktree add /tmp/base <commit>`), alternately on the
same machine, so a change is judged from adjacent runs instead of across this machine's drift.

Each round runs both trees, in alternating order, each on a fresh embedded server: `--points`
high-cardinality points from `--clients` processes in batches of `--batch-size` (as `python -m
bench` and `bench.peers` send them), recording points/s and the server's CPU per point (user +
system, from /proc). With `--server`, each round also ingests into one ClickHouse 18.16 server
(Debian's, on loopback), each tree right after a raw clickhouse-driver insert of the same rows
into the same database, and records the ratio that `bench.cluster` reports. Every ingest is
checked to have stored all its points. Prints every round, then the medians.

    git worktree add /tmp/base <commit>
    .venv/bin/python -m bench.ab --baseline /tmp/base --rounds 3 [--server]"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.cluster import Target, migrate, raw_insert
from bench.generate import DataSet
from bench.ingest import ingest
from bench.peers.systems import cpu_seconds
from bench.query import stored_points
from bench.run import _count
from bench.server import Server, running
from tests.clickhouse.harness import Cluster

THIS = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tree:
    name: str
    src: Path

    def env(self) -> dict[str, str]:
        """The server imports Luminate from this tree (the first entry of its path)."""
        return {"PYTHONPATH": str(self.src)}


@dataclass(frozen=True)
class Run:
    tree: str
    round: int
    points_per_s: float
    cpu_us_per_point: float | None
    ratio_to_raw: float | None = None


def _tree(name: str, root: Path) -> Tree:
    src = root.resolve() / "src"
    if not (src / "luminate" / "__init__.py").is_file():
        raise SystemExit(f"{root}: no source tree here (expected {src}/luminate)")
    return Tree(name, src)


def _ingest(server: Server, data: DataSet, batch_size: int, clients: int) -> tuple[float, float]:
    """Points/s and the server's CPU µs per point over the ingest."""
    before = cpu_seconds(server.pid)
    result = ingest(server, data, batch_size, clients)
    after = cpu_seconds(server.pid)
    got = stored_points(server, data)
    if got != data.points:
        raise RuntimeError(f"stored {got} of {data.points} points")
    cpu = (after - before) / data.points * 1e6 if before is not None and after else float("nan")
    return result.points_per_s, cpu


@contextmanager
def _single_server(base: Path, wanted: bool) -> Iterator[Cluster | None]:
    if not wanted:
        yield None
        return
    server = Cluster.start(base / "clickhouse", "single", 1)
    try:
        yield server
    finally:
        server.stop()


def _print(run: Run, where: str) -> None:
    ratio = f", {run.ratio_to_raw:.2f} of the raw insert" if run.ratio_to_raw is not None else ""
    cpu = f", {run.cpu_us_per_point:.2f} µs CPU/point" if run.cpu_us_per_point else ""
    print(
        f"[{time.strftime('%H:%M:%S')}] round {run.round}, {where}, {run.tree}: "
        f"{run.points_per_s:,.0f} points/s{cpu}{ratio}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    p.add_argument("--baseline", type=Path, required=True, help="root of the other source tree")
    p.add_argument("--points", type=_count, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--server", action="store_true", help="also into one ClickHouse 18.16 server")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    trees = [_tree("baseline", args.baseline), _tree("this tree", THIS)]
    print("command:", " ".join([".venv/bin/python -m bench.ab", *(argv or sys.argv[1:])]))
    embedded: list[Run] = []
    server_runs: list[Run] = []
    with (
        tempfile.TemporaryDirectory(prefix="luminate-bench-ab-") as tmp,
        _single_server(Path(tmp), args.server) as clickhouse,
    ):
        base = Path(tmp)
        for r in range(1, args.rounds + 1):
            order = trees if r % 2 else trees[::-1]
            for tree in order:
                data = DataSet(args.points, int(time.time() * 1000), seed=r)
                with running(base, f"embedded-{tree.name.replace(' ', '-')}-{r}", tree.env()) as s:
                    rate, cpu = _ingest(s, data, args.batch_size, args.clients)
                embedded.append(Run(tree.name, r, rate, cpu))
                _print(embedded[-1], "embedded")
            if clickhouse is None:
                continue
            for i, tree in enumerate(order):
                target = Target("single server", clickhouse, False, database=f"ab_{r}_{i}")
                migrate(target, tree.env())
                raw = raw_insert(
                    target,
                    DataSet(args.points, int(time.time() * 1000)),
                    args.batch_size,
                    args.clients,
                )
                env = {**target.env(), **tree.env()}
                data = DataSet(args.points, int(time.time() * 1000), seed=7)
                with running(base, f"server-{i}-{r}", env) as s:
                    rate, cpu = _ingest(s, data, args.batch_size, args.clients)
                server_runs.append(Run(tree.name, r, rate, cpu, rate / raw))
                _print(server_runs[-1], "one 18.16 server")
    print(f"\nmedians over {args.rounds} rounds, {args.points:,} points each")
    for tree in trees:
        mine = [run for run in embedded if run.tree == tree.name]
        line = (
            f"{tree.name:10} embedded: {statistics.median(r.points_per_s for r in mine):,.0f} "
            f"points/s, {statistics.median(r.cpu_us_per_point or 0 for r in mine):.2f} µs/point"
        )
        theirs = [run.ratio_to_raw for run in server_runs if run.tree == tree.name]
        if theirs:
            line += f"; one 18.16 server: {statistics.median(x or 0 for x in theirs):.2f} of raw"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
