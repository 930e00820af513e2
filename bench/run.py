"""`python -m bench`: ingest and query benchmarks against `luminate serve`, once per settings
variant, with a table on stdout and the full results as JSON under bench/results/."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

from bench import generate
from bench.generate import DataSet
from bench.ingest import IngestError, ingest
from bench.query import QUERY_TIMEOUT, QueryError, measure, stored_points
from bench.report import render
from bench.server import Server, ServerError, running, settle

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROMOTED = "customer_id,endpoint,region"
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "promoted": {"LUMINATE_STORAGE_PROMOTED_DIMENSIONS": PROMOTED},
}


@dataclass(frozen=True)
class Config:
    mode: str
    points: tuple[int, ...]
    ingest_points: int
    batch_sizes: tuple[int, ...]
    load_batch_size: int
    clients: int
    repetitions: int
    warmups: int
    span_s: int
    window: str
    seed: int
    settle_s: float
    variants: tuple[str, ...]
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    config: Config
    output: Path | None
    workdir: Path | None
    keep_data: bool


@dataclass(frozen=True)
class Preset:
    points: tuple[int, ...]
    ingest_points: int
    repetitions: int
    settle_s: float


QUICK = Preset(points=(200_000,), ingest_points=200_000, repetitions=10, settle_s=10.0)
FULL = Preset(
    points=(1_000_000, 10_000_000), ingest_points=1_000_000, repetitions=50, settle_s=60.0
)


def _count(text: str) -> int:
    text = text.strip().replace("_", "").lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    if not digits.isdigit() or int(digits) * scale <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive count (e.g. 200000, 1M)")
    return int(digits) * scale


def _counts(text: str) -> tuple[int, ...]:
    return tuple(_count(part) for part in text.split(",") if part.strip())


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.startswith(("LUMINATE_", "JWT_")):
        raise argparse.ArgumentTypeError(f"{text!r}: expected LUMINATE_NAME=value")
    return key, value


def add_env_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--env LUMINATE_NAME=value` (repeatable): settings for the Luminate servers a run starts,
    collected as (name, value) pairs in `args.env`."""
    parser.add_argument(
        "--env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="LUMINATE_NAME=VALUE",
        help=help_text,
    )


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Ingest throughput and query latency of `luminate serve` on generated "
        "high-cardinality data, with default settings and with promoted dimensions.",
    )
    p.add_argument("--quick", action="store_true", help="small run (about 2 minutes)")
    p.add_argument("--points", type=_counts, help="data set sizes for the query benchmark")
    p.add_argument("--ingest-points", type=_count, help="points per ingest measurement")
    p.add_argument("--batch-sizes", type=_counts, default=(1_000, 5_000))
    p.add_argument("--load-batch-size", type=_count, default=5_000)
    p.add_argument("--clients", type=int, default=4, help="client processes")
    p.add_argument("--repetitions", type=int, help="timed runs of each query")
    p.add_argument("--warmups", type=int, default=3)
    p.add_argument("--span", type=int, default=generate.DEFAULT_SPAN_S, help="data span, s")
    p.add_argument("--window", default="1h", help="query timeRange.relative")
    p.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    p.add_argument("--settle", type=float, help="longest wait for merges after a load, s")
    p.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma list of {', '.join(VARIANTS)}",
    )
    add_env_option(p, "extra server setting for every variant (repeatable)")
    p.add_argument("--output", type=Path, help="results JSON (default: bench/results/...)")
    p.add_argument("--workdir", type=Path, help="where data directories go (default: a temp dir)")
    p.add_argument("--keep-data", action="store_true", help="keep data directories and logs")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        p.error(f"--variants: unknown {unknown}; use {', '.join(VARIANTS)}")
    if args.clients < 1 or args.warmups < 0 or args.span < 1:
        p.error("--clients and --span must be positive, --warmups not negative")
    config = Config(
        mode="quick" if args.quick else "full",
        points=args.points or preset.points,
        ingest_points=args.ingest_points or preset.ingest_points,
        batch_sizes=args.batch_sizes,
        load_batch_size=args.load_batch_size,
        clients=args.clients,
        repetitions=args.repetitions or preset.repetitions,
        warmups=args.warmups,
        span_s=args.span,
        window=args.window,
        seed=args.seed,
        settle_s=args.settle if args.settle is not None else preset.settle_s,
        variants=variants,
        extra_env=dict(args.env),
    )
    if config.repetitions < 1:
        p.error("--repetitions must be at least 1")
    return Options(config, args.output, args.workdir, args.keep_data)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _check_stored(server: Server, data: DataSet) -> None:
    stored = stored_points(server, data)
    if stored != data.points:
        raise QueryError(f"server holds {stored:,} points of the data set; {data.points:,} sent")


@dataclass(frozen=True)
class Runner:
    config: Config
    workdir: Path
    keep_data: bool

    def ingest_runs(self, name: str, env: dict[str, str]) -> list[dict[str, Any]]:
        """One fresh server per batch size, each sent `ingest_points` points."""
        cfg = self.config
        out = []
        for batch_size in cfg.batch_sizes:
            label = f"{name}-ingest-{batch_size}"
            with running(self.workdir, label, env) as server:
                data = DataSet(cfg.ingest_points, _now_ms(), cfg.span_s * 1000, cfg.seed)
                _progress(f"{label}: sending {data.points:,} points")
                result = ingest(server, data, batch_size, cfg.clients)
                _check_stored(server, data)
                _progress(f"{label}: {result.points_per_s:,.0f} points/s")
                out.append(result.to_json())
            self.cleanup(label)
        return out

    def dataset_run(self, name: str, env: dict[str, str], points: int) -> dict[str, Any]:
        """A fresh server loaded with `points` points, then settled, measured and queried."""
        cfg = self.config
        label = f"{name}-{points}"
        with running(self.workdir, label, env) as server:
            data = DataSet(points, _now_ms(), cfg.span_s * 1000, cfg.seed)
            _progress(f"{label}: loading {points:,} points")
            load = ingest(server, data, cfg.load_batch_size, cfg.clients)
            _check_stored(server, data)
            _progress(f"{label}: loaded at {load.points_per_s:,.0f} points/s; settling")
            settled = settle(server.data_dir, cfg.settle_s)
            disk = settled.usage
            rss_load = server.memory().rss
            _progress(f"{label}: querying ({cfg.warmups} + {cfg.repetitions} runs each)")
            queries = measure(
                server,
                window=cfg.window,
                repetitions=cfg.repetitions,
                warmups=cfg.warmups,
                seed=cfg.seed,
            )
            memory = server.memory()
            server.check_alive()
        self.cleanup(label)
        return {
            "points": points,
            "data_start_ms": data.start_ms,
            "data_end_ms": data.end_ms,
            "load": load.to_json(),
            "settle_s": round(settled.waited_s, 1),
            "merges_quiet": settled.quiet,
            "disk": {
                "total_bytes": disk.total,
                "active_part_bytes": disk.active_parts,
                "active_parts": disk.parts,
                "inactive_parts": disk.inactive_parts,
                "total_bytes_per_point": round(disk.total / points, 2),
                "active_bytes_per_point": round(disk.active_parts / points, 2),
            },
            "memory": {
                "rss_after_load": rss_load,
                "rss_after_queries": memory.rss,
                "peak": memory.peak,
            },
            "queries": [q.to_json() for q in queries],
        }

    def cleanup(self, label: str) -> None:
        if not self.keep_data:
            shutil.rmtree(self.workdir / label, ignore_errors=True)


def _notes(doc: dict[str, Any]) -> list[str]:
    notes = []
    for v in doc["variants"]:
        for s in v["datasets"]:
            first = s["queries"][0] if s["queries"] else None
            if first is not None and first["points_matched_median"] < s["points"]:
                share = first["points_matched_median"] / s["points"]
                notes.append(
                    f"{v['name']} {s['points']:,}: the {doc['config']['window']} window held "
                    f"{share:.1%} of the loaded points when queried (points older than the "
                    "window are not aggregated: the first loaded may have left it during the load)"
                )
            if not s["merges_quiet"]:
                notes.append(
                    f"{v['name']} {s['points']:,}: parts were still changing (merges running) "
                    f"when disk and RSS were measured, after {s['settle_s']:g} s"
                )
            if s["disk"]["inactive_parts"]:
                notes.append(
                    f"{v['name']} {s['points']:,}: {s['disk']['inactive_parts']} merged-away "
                    "parts were still on disk (B/pt du counts them, B/pt parts does not)"
                )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    config = options.config
    command = shlex.join(sys.orig_argv) if argv is None else shlex.join(["-m", "bench", *argv])
    started = dt.datetime.now(dt.UTC)
    doc: dict[str, Any] = {
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "config": asdict(config),
        "query_timeout": QUERY_TIMEOUT,
        "data": {
            "metric": generate.METRIC,
            "customers": generate.CUSTOMERS,
            "endpoints": generate.ENDPOINTS,
            "regions": len(generate.REGIONS),
            "users": generate.USERS,
            "lognormal": {"mean": generate.LOG_MEAN, "sigma": generate.LOG_SIGMA},
        },
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "luminate": _version("luminate"),
            "chdb": _version("chdb"),
            "commit": _commit(),
            "loadavg_start": _loadavg(),
        },
        "variants": [],
    }
    print(f"command: {command}", file=sys.stderr, flush=True)
    base = options.workdir or Path(tempfile.mkdtemp(prefix="luminate-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    runner = Runner(config, base, options.keep_data)
    try:
        for name in config.variants:
            env = {**VARIANTS[name], **config.extra_env}
            variant: dict[str, Any] = {"name": name, "env": env}
            variant["ingest"] = runner.ingest_runs(name, env)
            variant["datasets"] = [runner.dataset_run(name, env, n) for n in config.points]
            doc["variants"].append(variant)
    except (IngestError, QueryError, ServerError) as exc:
        print(f"bench: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if options.keep_data:
            _progress(f"data directories and server logs kept in {base}")
        elif options.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    doc["environment"]["loadavg_end"] = _loadavg()
    doc["seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    doc["notes"] = _notes(doc)
    print(render(doc))
    path = options.output or RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}-{config.mode}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n")
    print(f"\nresults: {path}")
    return 0
