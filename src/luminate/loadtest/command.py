"""`luminate loadtest`: drive a deployment with realistic writes and queries, report throughput,
latency percentiles, errors and 429s (apart), judge thresholds.

Exit status: 0 when every threshold holds; 1 when one is breached, when the target cannot take
the run (unreachable, token refused, answering errors) or when no request succeeded; 2 for a
usage error (a bad threshold or option), all with a one-line reason."""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luminate.model.time import parse_duration
from luminate.settings import ConfigError

if TYPE_CHECKING:
    from luminate.loadtest.driver import Load, Plan
    from luminate.loadtest.summary import RunConfig

EXTRA_HINT = "pip install 'luminate[loadtest]'"
MAX_WORKERS = 64
MAX_TENANTS = 10_000
MAX_BATCH = 100_000
TENANT_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class UsageError(ValueError):
    """A bad option; the message is printed as is and the exit status is 2."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "loadtest",
        help="load a deployment with writes and queries; thresholds make it fail",
        description="Load a Luminate deployment with realistic writes and queries for a while, "
        "then report requests/s, points/s, latency percentiles, errors and 429s per scenario. "
        "Needs the loadtest extra: " + EXTRA_HINT,
    )
    p.add_argument("--url", help="base URL of the deployment (http:// or https://)")
    p.add_argument(
        "--token",
        help="bearer token to send (default: sign one per tenant with "
        "JWT_SECRET / JWT_SECRET_FILE, like `luminate token create`)",
    )
    p.add_argument(
        "--tenants",
        type=int,
        default=10,
        help="tenants to spread load over when signing tokens (default 10)",
    )
    p.add_argument("--tenant-prefix", default="loadtest", help="their names: PREFIX-0, PREFIX-1...")
    p.add_argument("--write-rate", type=float, default=0.0, help="write requests/s (open loop)")
    p.add_argument("--write-vus", type=int, default=0, help="virtual users writing back to back")
    p.add_argument("--query-rate", type=float, default=0.0, help="query requests/s (open loop)")
    p.add_argument("--query-vus", type=int, default=0, help="virtual users querying back to back")
    p.add_argument("--batch-size", type=int, default=500, help="points per write (default 500)")
    p.add_argument("--duration", default="60s", help="measured time, e.g. 60s, 10m (default 60s)")
    p.add_argument(
        "--warmup",
        default="10s",
        help="time before measuring, excluded from the figures (default 10s; 0 for none)",
    )
    p.add_argument("--workers", type=int, default=1, help="generator processes (default 1)")
    p.add_argument("--timeout", default="30s", help="per request (default 30s)")
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=256,
        help="outstanding open-loop requests per worker (default 256)",
    )
    p.add_argument("--think", default="0", help="pause of a virtual user between requests")
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        help="e.g. 'write.p95<100ms', 'errors<1%%', 'write.pps>=100000'; repeatable",
    )
    p.add_argument("--summary", metavar="FILE", help="write the JSON summary here")
    p.add_argument("--chart", metavar="FILE.png", help="draw throughput and latency over time")
    p.add_argument(
        "--ledger",
        metavar="FILE",
        help="write every acknowledged batch here "
        "(JSON lines: tenant, timestamp, points) for a recount in storage",
    )
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except (UsageError, ConfigError) as exc:
        print(f"luminate loadtest: {exc}", file=sys.stderr)
        return 2
    return _execute(args, options)


def _seconds(name: str, raw: str, *, zero: bool = False) -> float:
    text = str(raw).strip()
    if zero and text in {"0", "0s", "0ms"}:
        return 0.0
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        value = float(text)
    else:
        try:
            value = parse_duration(text) / 1000
        except ValueError as exc:
            raise UsageError(f"--{name}: {exc}") from None
    if value <= 0 and not zero:
        raise UsageError(f"--{name} must be positive, got {raw!r}")
    return value


def _options(args: argparse.Namespace) -> dict[str, Any]:
    _check_extras(args)
    from luminate.loadtest import thresholds  # noqa: PLC0415

    try:
        verdicts = [thresholds.parse(t) for t in args.threshold]
    except thresholds.ThresholdError as exc:
        raise UsageError(str(exc)) from None
    url = _url(args.url)
    loads = _loads(args)
    for t in verdicts:
        if t.scenario is not None and t.scenario not in loads:
            raise UsageError(
                f"threshold {t.text!r} is about the {t.scenario} scenario, "
                "which this run does not send"
            )
        if t.statistic == "pps" and "write" not in loads:
            raise UsageError(f"threshold {t.text!r} needs the write scenario")
    _check_bounds(args)
    return {
        "url": url,
        "loads": loads,
        "thresholds": verdicts,
        "tokens": _tokens(args, sorted({"write" if n == "write" else "read" for n in loads})),
        "duration_s": _seconds("duration", args.duration),
        "warmup_s": _seconds("warmup", args.warmup, zero=True),
        "timeout_s": _seconds("timeout", args.timeout),
        "think_s": _seconds("think", args.think, zero=True),
    }


def _check_extras(args: argparse.Namespace) -> None:
    try:
        from luminate.loadtest import figures  # noqa: F401, PLC0415  (needs hdrhistogram)
    except ImportError as exc:
        raise UsageError(
            f"needs the loadtest extra ({exc.name} is missing): {EXTRA_HINT}"
        ) from None
    if args.chart:
        try:
            import matplotlib  # noqa: F401, PLC0415
        except ImportError:
            raise UsageError(f"--chart needs matplotlib: {EXTRA_HINT}") from None
        if not args.chart.endswith(".png"):
            raise UsageError(f"--chart draws a PNG: name a .png file, got {args.chart!r}")


def _url(raw: str | None) -> str:
    from luminate.cli.smoke import base_url  # noqa: PLC0415

    if not raw:
        raise UsageError("--url is required (the deployment's base URL)")
    try:
        url = base_url(raw)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return url


def _loads(args: argparse.Namespace) -> dict[str, Load]:
    from luminate.loadtest.driver import Load  # noqa: PLC0415

    loads: dict[str, Load] = {}
    for name in ("write", "query"):
        rate, vus = getattr(args, f"{name}_rate"), getattr(args, f"{name}_vus")
        if not 0 <= rate < float("inf") or vus < 0:
            raise UsageError(f"--{name}-rate and --{name}-vus must be positive numbers")
        if rate and vus:
            raise UsageError(f"give --{name}-rate or --{name}-vus, not both")
        if rate or vus:
            loads[name] = Load(rate=rate, vus=vus)
    if not loads:
        raise UsageError(
            "nothing to send: give --write-rate/--write-vus and/or --query-rate/--query-vus"
        )
    return loads


def _check_bounds(args: argparse.Namespace) -> None:
    if not 1 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_WORKERS}")
    if not 1 <= args.tenants <= MAX_TENANTS:
        raise UsageError(f"--tenants must be between 1 and {MAX_TENANTS}")
    if not TENANT_PREFIX.fullmatch(args.tenant_prefix):
        raise UsageError("--tenant-prefix must be 1-100 characters of [A-Za-z0-9_.-]")
    if not 1 <= args.batch_size <= MAX_BATCH:
        raise UsageError(f"--batch-size must be between 1 and {MAX_BATCH}")
    if not 1 <= args.max_in_flight <= 100_000:
        raise UsageError("--max-in-flight must be between 1 and 100000")
    for name in ("summary", "chart", "ledger"):
        target = getattr(args, name)
        if target and not Path(target).resolve().parent.is_dir():
            raise UsageError(f"--{name} {target!r}: its directory does not exist")


def _tokens(args: argparse.Namespace, scopes: list[str]) -> dict[str, str]:
    from luminate.loadtest import tokens  # noqa: PLC0415

    token = (args.token or "").strip()
    try:
        if token:
            return tokens.given(token, scopes)
        names = [f"{args.tenant_prefix}-{i}" for i in range(args.tenants)]
        return tokens.signed(names, scopes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _execute(args: argparse.Namespace, o: dict[str, Any]) -> int:
    from luminate.loadtest import preflight, report, runner, summary  # noqa: PLC0415
    from luminate.loadtest.progress import Progress  # noqa: PLC0415
    from luminate.loadtest.thresholds import judge  # noqa: PLC0415

    run_id = uuid.uuid4().hex[:12]
    ran = list(o["loads"])
    try:
        preflight.check(o["url"], o["tokens"], ran, run_id, min(o["timeout_s"], 10.0))
    except preflight.TargetProblem as exc:
        print(f"luminate loadtest: {exc}", file=sys.stderr)
        return 1
    plan, config = _plan(args, o, run_id)
    progress = Progress(sys.stderr, ran, o["warmup_s"] + o["duration_s"])
    began = time.monotonic()
    stopping = runner.Stopping()
    try:
        with stopping:
            figures = runner.run(plan, args.workers, progress.tick, stopping.requested)
    except runner.RunFailed as exc:
        progress.done()
        print(f"luminate loadtest: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        progress.done()
        print("luminate loadtest: interrupted", file=sys.stderr)
        return 130
    progress.done()
    verdicts = judge(o["thresholds"], summary.threshold_figures(figures, ran))
    result = summary.build(config, figures, verdicts, ran)
    result["run"]["wall_s"] = round(time.monotonic() - began, 1)
    return report.publish(result, figures, verdicts, args.summary, args.ledger, args.chart)


def _plan(args: argparse.Namespace, o: dict[str, Any], run_id: str) -> tuple[Plan, RunConfig]:
    from luminate.loadtest.driver import Plan  # noqa: PLC0415
    from luminate.loadtest.summary import RunConfig  # noqa: PLC0415

    loads: dict[str, Load] = o["loads"]
    plan = Plan(
        url=o["url"],
        tokens=o["tokens"],
        write=loads.get("write"),
        query=loads.get("query"),
        batch_size=args.batch_size,
        warmup_s=o["warmup_s"],
        duration_s=o["duration_s"],
        timeout_s=o["timeout_s"],
        max_in_flight=args.max_in_flight,
        think_s=o["think_s"],
        seed=args.seed,
        run_id=run_id,
        worker=0,
        workers=args.workers,
        start_at=0.0,
    )
    config = RunConfig(
        url=o["url"],
        run_id=run_id,
        scenarios={n: ({"rate": x.rate} if x.rate else {"vus": x.vus}) for n, x in loads.items()},
        tenants=len(o["tokens"]),
        batch_size=args.batch_size,
        warmup_s=o["warmup_s"],
        duration_s=o["duration_s"],
        workers=args.workers,
        timeout_s=o["timeout_s"],
    )
    return plan, config
