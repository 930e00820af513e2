"""`python -m bench.deletions`: how long a deletion takes on the embedded engine, by the number
of data parts it has to rewrite and the size of the engine's pool of merge and mutation threads.

For each pool size a fresh process opens a fresh store (`build_storage`, as `luminate serve`
does, with that pool size) and writes `--parts` inserts of 1,000 points, each into a day of its
own (partitions are days, so the parts never merge). Then it times `Storage.delete_before` three
times, each deleting another 100 of the tenant's points, so every part is rewritten; the call
returns once the engine has finished the mutation. Prints the median and the slowest of the
three, in milliseconds."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence

from bench.child import ChildFailed, run_json

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from luminate.storage import embedded
    embedded.BACKGROUND_POOL_SIZE = int(sys.argv[1])
    from luminate.app import build_storage
    from luminate.model.points import TenantPoints
    from luminate.settings import load_settings
    parts = int(sys.argv[2])
    storage = build_storage(load_settings())
    storage.migrate()
    day = 86_400_000
    start = int(time.time() * 1000) // day * day - parts * day
    for p in range(parts):
        batch = TenantPoints("bench")
        for i in range(1000):
            batch.names.append("api_latency")
            batch.timestamps.append(start + p * day + i * 1000)
            batch.values.append(float(i))
            batch.keys.append(["customer_id"])
            batch.dim_values.append([f"cust_{i % 50}"])
        storage.write([batch])
    took = []
    for step in (1, 2, 3):
        began = time.perf_counter()
        storage.delete_before("bench", "api_latency", start + step * 100_000)
        took.append((time.perf_counter() - began) * 1000)
    storage.close()
    print(json.dumps(took))
    """
)


def measure(pool: int, parts: int) -> list[float]:
    try:
        took: list[float] = run_json(
            _CHILD, [str(pool), str(parts)], what=f"pool {pool}, {parts} parts"
        )
    except ChildFailed as exc:
        raise SystemExit(str(exc)) from None
    return sorted(took)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.deletions", description=__doc__)
    p.add_argument("--pools", default="2,4,16", help="pool sizes to compare")
    p.add_argument("--parts", default="1,5,20", help="numbers of data parts")
    args = p.parse_args(argv)
    print("command:", " ".join([".venv/bin/python -m bench.deletions", *(argv or sys.argv[1:])]))
    pools = [int(x) for x in args.pools.split(",")]
    print("| parts | " + " | ".join(f"pool {n}: median / max ms" for n in pools) + " |")
    print("|---|" + "---|" * len(pools))
    for parts in (int(x) for x in args.parts.split(",")):
        cells = []
        for pool in pools:
            took = measure(pool, parts)
            cells.append(f"{took[1]:.0f} / {took[2]:.0f}")
            print(f"  pool {pool}, {parts} parts: {took}", file=sys.stderr, flush=True)
        print(f"| {parts} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
