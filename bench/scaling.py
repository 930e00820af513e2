"""Horizontal scaling on the 2 shards x 2 replicas cluster: 1, 2, 3 `luminate serve` processes
behind a round-robin HAProxy (as pods behind a Service), each loaded by `luminate loadtest`.

    .venv/bin/python -m bench.scaling [--processes 1,2,3] [--seconds 30] [--write-vus 16]

For each count it reports points/s and write latency, each process's CPU before, during and
after the load (the HPA's signal), the machine's CPU, and then how a per-process rate limit
composes with the count: one tenant limited to `--limit-rps` writes/s per process sends far
more, and the admitted rate is measured; and one tenant limited to `--series-limit` series per
process writes 1,600 series steadily, and the series stored are counted. Results go to
bench/results/<UTC time>-scaling.json, with the load test's chart per count and a chart of CPU
per process over time beside it."""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from luminate.auth.tokens import create_token
from tests.clickhouse.fleet import Fleet, loadtest, replicas_in_sync
from tests.clickhouse.harness import Cluster
from tests.support.tokens import TEST_SECRET

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATABASE = "bench_scaling"
LIMITED = "limited"
SERIES_LIMITED = "series-limited"


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


@dataclass
class Sampler:
    """CPU share of each process and of the machine, once a second, in a thread."""

    fleet: Fleet
    began: float = field(default_factory=time.monotonic)
    rows: list[dict[str, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        last, (busy, total), t = self.fleet.cpu(), machine_busy(), time.monotonic()
        while not self.stop.wait(1.0):
            now_cpu, (now_busy, now_total), now = self.fleet.cpu(), machine_busy(), time.monotonic()
            dt = now - t
            self.rows.append(
                {
                    "t": round(now - self.began, 2),
                    "process_cpu": [
                        round((b - a) / dt, 4) for a, b in zip(last, now_cpu, strict=True)
                    ],
                    "machine_busy": round((now_busy - busy) / max(1.0, now_total - total), 4),
                }
            )
            last, busy, total, t = now_cpu, now_busy, now_total, now


def mean_cpu(rows: list[dict[str, Any]], start: float, end: float) -> list[float]:
    inside = [r["process_cpu"] for r in rows if start <= r["t"] <= end]
    if not inside:
        return []
    return [round(sum(col) / len(inside), 4) for col in zip(*inside, strict=True)]


def one_count(fleet: Fleet, n: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    fleet.scale_to(n)
    sampler = Sampler(fleet)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    time.sleep(args.idle)
    load_start = time.monotonic() - sampler.began
    run = loadtest(
        fleet.url, out / f"{n}-processes",
        "--write-vus", str(args.write_vus), "--batch-size", str(args.batch_size),
        "--tenants", "10", "--workers", str(args.workers),
        "--duration", f"{args.seconds}s", "--warmup", f"{args.warmup}s",
        "--chart", str(out / f"{n}-processes.png"),
    )  # fmt: skip
    load_end = time.monotonic() - sampler.began
    time.sleep(args.idle)
    sampler.stop.set()
    thread.join(5)
    if run.exit_code != 0:
        raise SystemExit(f"loadtest on {n} process(es) failed:\n{run.stdout}\n{run.stderr}")
    write = run.summary["scenarios"]["write"]
    measured = (load_start + args.warmup + 2, load_end - 1)
    during = mean_cpu(sampler.rows, *measured)
    machine = [r["machine_busy"] for r in sampler.rows if measured[0] <= r["t"] <= measured[1]]
    cpu_per_point_us = sum(during) / write["points_per_s"] * 1e6 if write["points_per_s"] else None
    return {
        "processes": n,
        "points_per_s": write["points_per_s"],
        "requests_per_s": write["requests_per_s"],
        "latency_ms": write["latency_ms"],
        "errors": write["errors"],
        "rate_limited": write["rate_limited"],
        "generator": run.summary["generator"],
        "cpu_idle_before": mean_cpu(sampler.rows, 0, load_start - 0.5),
        "cpu_during": during,
        "cpu_idle_after": mean_cpu(sampler.rows, load_end + 1.5, 1e9),
        "machine_busy_during": round(sum(machine) / len(machine), 3) if machine else None,
        "process_cpu_us_per_point": round(cpu_per_point_us, 2) if cpu_per_point_us else None,
        "load_window_s": [round(load_start, 1), round(load_end, 1)],
        "samples": sampler.rows,
    }


def limit_composition(fleet: Fleet, n: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One tenant at `--limit-send` writes/s against `--limit-rps` per process."""
    fleet.scale_to(n)
    token = create_token(TEST_SECRET, tenant=LIMITED, scopes=["write"], ttl_s=3600)
    run = loadtest(
        fleet.url, out / f"limit-{n}",
        "--token", token, "--write-rate", str(args.limit_send), "--batch-size", "10",
        "--duration", f"{args.limit_seconds}s", "--warmup", "0",
    )  # fmt: skip
    write = run.summary["scenarios"]["write"]
    admitted = write["statuses"].get("200", 0) / args.limit_seconds
    # Each process admits its rate plus, once, its burst (burst_seconds x rate).
    expected = n * args.limit_rps * (1 + 1 / args.limit_seconds)
    return {
        "processes": n,
        "sent_per_s": write["requests_per_s"],
        "admitted_per_s": round(admitted, 1),
        "expected_per_s": round(expected, 1),
        "rate_limited": write["rate_limited"],
        "errors": write["errors"],
    }


def series_composition(fleet: Fleet, n: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One steady writer whose tenant may hold `--series-limit` series per process."""
    fleet.scale_to(n)
    tenant = f"{SERIES_LIMITED}-{n}"
    token = create_token(TEST_SECRET, tenant=tenant, scopes=["write"], ttl_s=3600)
    run = loadtest(
        fleet.url, out / f"series-{n}",
        "--token", token, "--write-rate", "40", "--batch-size", "100",
        "--duration", f"{args.limit_seconds}s", "--warmup", "0",
    )  # fmt: skip
    write = run.summary["scenarios"]["write"]
    replicas_in_sync(fleet.cluster, DATABASE)
    series: set[tuple[Any, ...]] = set()
    for node in (0, 2):  # the first replica of each shard
        rows = fleet.cluster.execute(
            node,
            f"SELECT metric_name, dim_keys, dim_values FROM {DATABASE}.samples_local "
            "WHERE tenant_id = %(t)s GROUP BY metric_name, dim_keys, dim_values",
            {"t": tenant},
        )
        series.update((m, tuple(k), tuple(v)) for m, k, v in rows)
    return {
        "processes": n,
        "series_sent": 16 * 100,  # 16 rendered bodies of 100 points, one worker
        "series_stored": len(series),
        "points_accepted": write["points"],
        "points_rejected": write["rejected_points"],
        "rate_limited": write["rate_limited"],
    }


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(10, 3 * len(results)), sharex=True)
    for ax, r in zip(axes if len(results) > 1 else [axes], results, strict=True):
        t = [s["t"] for s in r["samples"]]
        for i in range(r["processes"]):
            ax.plot(t, [s["process_cpu"][i] * 100 for s in r["samples"]], label=f"process {i}")
        ax.plot(t, [s["machine_busy"] * 200 for s in r["samples"]], color="0.6", ls=":",
                label="machine (of 200%)")  # fmt: skip
        ax.axvspan(*r["load_window_s"], color="0.92", zorder=0)
        ax.set_ylabel("CPU % of a core")
        ax.set_title(f"{r['processes']} process(es): {r['points_per_s']:,.0f} points/s, "
                     f"p95 {r['latency_ms']['p95']} ms", fontsize=10)  # fmt: skip
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
    axes_list = axes if len(results) > 1 else [axes]
    axes_list[-1].set_xlabel("seconds (grey: load test running, warm-up included)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    p.add_argument("--processes", default="1,2,3")
    p.add_argument("--seconds", type=int, default=30, help="measured seconds per count")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--idle", type=float, default=6.0, help="seconds of rest before and after")
    p.add_argument("--write-vus", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--limit-rps", type=int, default=20, help="per-process write_rps of a tenant")
    p.add_argument("--limit-send", type=int, default=150, help="writes/s that tenant sends")
    p.add_argument("--limit-seconds", type=int, default=10)
    p.add_argument("--series-limit", type=int, default=1000, help="per-process max_series")
    p.add_argument("--output", type=Path)
    args = p.parse_args(argv)
    counts = [int(x) for x in args.processes.split(",")]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.output or RESULTS_DIR / f"{stamp}-scaling.json"
    assets = out.with_suffix("")
    assets.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="luminate-scaling-") as tmp:
        base = Path(tmp)
        print("starting the 2x2 cluster ...", flush=True)
        cluster = Cluster.start(base / "cluster", "2x2", 3)
        overrides = base / "limits.yaml"
        tenants: dict[str, Any] = {LIMITED: {"write_rps": args.limit_rps, "burst_seconds": 1}}
        for n in counts:
            tenants[f"{SERIES_LIMITED}-{n}"] = {"max_series": args.series_limit}
        overrides.write_text(yaml.safe_dump({"tenants": tenants}))
        fleet = Fleet(base / "fleet", cluster, DATABASE,
                      {"LUMINATE_LIMITS_OVERRIDES_FILE": str(overrides)})  # fmt: skip
        try:
            fleet.migrate()
            results = []
            for n in counts:
                print(
                    f"{n} process(es): loading for {args.warmup + args.seconds} s ...", flush=True
                )
                results.append(one_count(fleet, n, args, assets))
            limits = [limit_composition(fleet, n, args, assets) for n in counts]
            series = [series_composition(fleet, n, args, assets) for n in counts]
        finally:
            fleet.stop()
            cluster.stop()
    chart(results, assets / "cpu.png")
    report = {
        "command": " ".join(["python -m bench.scaling", *(argv or [])]),
        "args": vars(args) | {"output": str(out)},
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "scaling": results,
        "limits": limits,
        "series": series,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    for line in table(results, limits, series, args):
        print(line)
    print(f"\nresults: {out}\ncharts: {assets}/")
    return 0


def table(
    results: list[dict[str, Any]],
    limits: list[dict[str, Any]],
    series: list[dict[str, Any]],
    args: Any,
) -> list[str]:
    lines = [
        f"\n{'processes':>9} {'points/s':>10} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8}  {'CPU per process: idle > load > idle':<40} {'machine':>8} {'us/pt':>6}"
    ]
    for r in results:
        lat = r["latency_ms"]
        spans = zip(r["cpu_idle_before"], r["cpu_during"], r["cpu_idle_after"], strict=True)
        cpu = " ".join(f"{a:.0%}>{b:.0%}>{c:.0%}" for a, b, c in spans)
        lines.append(
            f"{r['processes']:>9} {r['points_per_s']:>10,.0f} {r['requests_per_s']:>8,.1f} "
            f"{lat['p50']:>8} {lat['p95']:>8} {lat['p99']:>8}  {cpu:<40} "
            f"{r['machine_busy_during']:>8.0%} {r['process_cpu_us_per_point']:>6}"
        )
    lines.append(
        f"\ntenant {LIMITED!r}: write_rps {args.limit_rps} per process, sending "
        f"{args.limit_send}/s:"
    )
    for lim in limits:
        lines.append(
            f"  {lim['processes']} process(es): admitted {lim['admitted_per_s']}/s (expected "
            f"about {lim['expected_per_s']}/s), 429s {lim['rate_limited']}, errors {lim['errors']}"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
