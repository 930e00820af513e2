"""The load test's outcome: the figures thresholds read, the JSON summary and its text form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from luminate.loadtest.figures import Figures
from luminate.loadtest.thresholds import Verdict

SATURATED_SHARE = 0.9
"""A worker above this share of one core over a few seconds is the bottleneck, not the server."""
SATURATION_SPAN = 3
LAG_WARNING_S = 0.25


@dataclass(frozen=True)
class RunConfig:
    url: str
    run_id: str
    scenarios: dict[str, dict[str, float]]
    """scenario -> {"rate": requests/s} or {"vus": n}."""
    tenants: int
    batch_size: int
    warmup_s: float
    duration_s: float
    workers: int
    timeout_s: float


def threshold_figures(figures: Figures, ran: list[str]) -> dict[str, float | None]:
    """Every figure a threshold can name, in seconds, fractions and per-second counts."""
    out: dict[str, float | None] = {}
    for name in (*ran, "all"):
        prefix = "" if name == "all" else f"{name}."
        tally = figures.measured[name]
        for q in (50, 90, 95, 99):
            value = figures.percentile_ms(name, q)
            out[f"{prefix}p{q}"] = None if value is None else value / 1000
        top, mean = figures.max_ms(name), figures.mean_ms(name)
        out[f"{prefix}max"] = None if top is None else top / 1000
        out[f"{prefix}avg"] = None if mean is None else mean / 1000
        out[f"{prefix}rps"] = tally.requests / figures.duration_s
        out[f"{prefix}pps"] = tally.points / figures.duration_s
        out[f"{prefix}errors"] = tally.errors / tally.requests if tally.requests else None
        out[f"{prefix}rate_limited"] = (
            tally.rate_limited / tally.requests if tally.requests else None
        )
    return out


def _scenario(figures: Figures, name: str) -> dict[str, Any]:
    tally = figures.measured[name]
    n = tally.requests
    latency = {f"p{q:g}": _round(figures.percentile_ms(name, q)) for q in (50, 90, 95, 99)}
    latency["max"] = _round(figures.max_ms(name))
    latency["avg"] = _round(figures.mean_ms(name))
    return {
        "requests": n,
        "requests_per_s": round(n / figures.duration_s, 2),
        "points": tally.points,
        "points_per_s": round(tally.points / figures.duration_s, 1),
        "rejected_points": tally.rejected_points,
        "latency_ms": latency,
        "statuses": {str(s): c for s, c in sorted(tally.statuses.items())},
        "errors": tally.errors,
        "error_ratio": round(tally.errors / n, 6) if n else None,
        "rate_limited": tally.rate_limited,
        "rate_limited_ratio": round(tally.rate_limited / n, 6) if n else None,
        "no_answer": dict(tally.no_answer.most_common()),
        "error_examples": {str(s): t for s, t in sorted(tally.examples.items())},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def generator(figures: Figures, requests: int) -> dict[str, Any]:
    workers = sorted(figures.cpu_s)
    shares = {w: figures.cpu_s[w] / figures.wall_s[w] for w in workers if figures.wall_s[w] > 0}
    peak = {w: _peak(figures.cpu_per_second[w]) for w in workers}
    total_cpu = sum(figures.cpu_s.values())
    return {
        "workers": len(workers),
        "cpu_share_per_worker": {str(w): round(s, 3) for w, s in shares.items()},
        "peak_cpu_share_per_worker": {str(w): round(s, 3) for w, s in peak.items()},
        "cpu_seconds": round(total_cpu, 2),
        "cpu_us_per_request": round(total_cpu / requests * 1e6, 1) if requests else None,
        "saturated": any(s >= SATURATED_SHARE for s in peak.values()),
        "max_lag_s": round(figures.lag_s, 3),
    }


def _peak(shares: list[float]) -> float:
    """The highest average over SATURATION_SPAN consecutive report intervals."""
    if len(shares) < SATURATION_SPAN:
        return max(shares, default=0.0)
    spans = (shares[i : i + SATURATION_SPAN] for i in range(len(shares) - SATURATION_SPAN + 1))
    return max(sum(s) / SATURATION_SPAN for s in spans)


def warnings(gen: dict[str, Any]) -> list[str]:
    out = []
    if gen["saturated"]:
        out.append(
            f"the load generator saturated a CPU core (above {SATURATED_SHARE:.0%} over "
            f"{SATURATION_SPAN} s): the figures describe the generator as much as the server; "
            "add --workers or run it on another machine"
        )
    if gen["max_lag_s"] > LAG_WARNING_S:
        out.append(
            f"the open-loop schedule fell up to {gen['max_lag_s']:.2f} s behind (--max-in-flight "
            "reached or CPU short): the server was offered less than the target rate"
        )
    return out


def timeline(figures: Figures, ran: list[str]) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for (second, scenario), closed in sorted(figures.complete.items()):
        phase = (
            "warmup"
            if second < figures.warmup_s
            else "measured"
            if figures.in_window(second)
            else "after"
        )
        row = rows.setdefault(second, {"second": second, "phase": phase})
        t = closed.tally
        row[scenario] = {
            "requests": t.requests,
            "points": t.points,
            "ok": sum(c for s, c in t.statuses.items() if 200 <= s < 300),
            "errors": t.errors,
            "rate_limited": t.rate_limited,
            "p50_ms": _round(closed.p50_ms),
            "p95_ms": _round(closed.p95_ms),
            "p99_ms": _round(closed.p99_ms),
        }
    for row in rows.values():
        for name in ran:
            row.setdefault(name, None)
    return [rows[s] for s in sorted(rows)]


def build(
    config: RunConfig, figures: Figures, verdicts: list[Verdict], ran: list[str]
) -> dict[str, Any]:
    total = sum(t.tally.requests for t in figures.complete.values())
    gen = generator(figures, total)
    by_tenant: Counter[str] = Counter()
    for ack in figures.acknowledged:
        by_tenant[ack.tenant] += ack.points
    return {
        "run": {
            "url": config.url,
            "run_id": config.run_id,
            "scenarios": config.scenarios,
            "tenants": config.tenants,
            "batch_size": config.batch_size,
            "warmup_s": config.warmup_s,
            "duration_s": config.duration_s,
            "workers": config.workers,
            "timeout_s": config.timeout_s,
        },
        "scenarios": {name: _scenario(figures, name) for name in ran},
        "all": _scenario(figures, "all"),
        "generator": gen,
        "warnings": warnings(gen),
        "thresholds": [
            {"threshold": v.threshold.text, "measured": v.measured, "passed": v.passed}
            for v in verdicts
        ],
        "acknowledged": {
            "points": sum(by_tenant.values()),
            "batches": len(figures.acknowledged),
            "points_by_tenant": dict(sorted(by_tenant.items())),
            "note": "every phase, warm-up included: what storage must hold afterwards",
        },
        "timeline": timeline(figures, ran),
    }


def text(summary: dict[str, Any]) -> list[str]:
    run = summary["run"]
    lines = [
        f"luminate loadtest {run['url']}: {run['duration_s']:g} s measured after "
        f"{run['warmup_s']:g} s of warm-up, {run['workers']} worker(s), {run['tenants']} tenant(s)",
        f"{'scenario':<9}{'requests':>10}{'req/s':>10}{'points/s':>12}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'errors':>16}{'429':>16}",
    ]
    for name, s in summary["scenarios"].items():
        lat = s["latency_ms"]
        pps = f"{s['points_per_s']:,.0f}" if name == "write" else "-"
        lines.append(
            f"{name:<9}{s['requests']:>10,}{s['requests_per_s']:>10,.1f}{pps:>12}"
            f"{_ms(lat['p50']):>9}{_ms(lat['p95']):>9}{_ms(lat['p99']):>9}{_ms(lat['max']):>9}"
            f"{_count(s['errors'], s['error_ratio']):>16}"
            f"{_count(s['rate_limited'], s['rate_limited_ratio']):>16}"
        )
    for name, s in summary["scenarios"].items():
        statuses = ", ".join(f"{code} x{n:,}" for code, n in s["statuses"].items())
        lines.append(f"{name} statuses: {statuses or 'none'}")
        for reason, n in s["no_answer"].items():
            lines.append(f"{name} without an answer: {n:,} x {reason}")
        for status, example in s["error_examples"].items():
            lines.append(f"{name} {status}: {example}")
    gen = summary["generator"]
    shares = ", ".join(f"{float(v):.0%}" for v in gen["cpu_share_per_worker"].values())
    per_request = gen["cpu_us_per_request"]
    lines.append(
        f"generator: {gen['workers']} worker(s) at {shares or '-'} of a core"
        + (f", {per_request:,.0f} µs CPU per request" if per_request is not None else "")
    )
    ack = summary["acknowledged"]
    lines.append(f"acknowledged: {ack['points']:,} points in {ack['batches']:,} batches")
    lines += [f"warning: {w}" for w in summary["warnings"]]
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _count(n: int, ratio: float | None) -> str:
    return f"{n:,} ({ratio:.2%})" if ratio is not None else "-"
