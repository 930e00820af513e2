"""A PNG of a run over time: throughput, latency percentiles, and errors and 429s per second,
the warm-up shaded. Drawn with matplotlib (the `loadtest` extra) on its file-only backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {"write": "#1f77b4", "query": "#ff7f0e"}
STYLES = {"p50_ms": ":", "p95_ms": "-", "p99_ms": "--"}


def draw(summary: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415  (an optional extra, loaded only to draw)

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415
    from matplotlib import ticker  # noqa: PLC0415

    rows = summary["timeline"]
    scenarios = list(summary["scenarios"])
    run = summary["run"]
    fig, (rate_ax, lat_ax, err_ax) = plt.subplots(
        3, 1, figsize=(11, 9), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.4]}
    )
    x = [r["second"] for r in rows]
    points_ax = rate_ax.twinx() if "write" in scenarios else None
    for name in scenarios:
        cells = [r.get(name) or {} for r in rows]
        color = COLORS.get(name, "gray")
        rate_ax.plot(x, [c.get("requests", 0) for c in cells], color=color, label=f"{name} req/s")
        if name == "write" and points_ax is not None:
            points_ax.plot(
                x,
                [c.get("points", 0) for c in cells],
                color=color,
                alpha=0.35,
                lw=3,
                label="write points/s",
            )
        for key, style in STYLES.items():
            lat_ax.plot(
                x,
                [c.get(key) for c in cells],
                color=color,
                ls=style,
                label=f"{name} {key.removesuffix('_ms')}",
            )
    # Errors and 429s of every scenario, stacked.
    errors = [sum((r.get(n) or {}).get("errors", 0) for n in scenarios) for r in rows]
    limited = [sum((r.get(n) or {}).get("rate_limited", 0) for n in scenarios) for r in rows]
    err_ax.bar(x, errors, color="#d62728", width=0.9, label="errors (not 429)")
    err_ax.bar(x, limited, color="#9467bd", width=0.9, bottom=errors, label="429")
    for ax in (rate_ax, lat_ax, err_ax):
        if run["warmup_s"]:
            ax.axvspan(0, run["warmup_s"], color="0.9", zorder=0)
        ax.grid(alpha=0.3)
    rate_ax.set_ylabel("requests/s")
    rate_ax.set_ylim(bottom=0)
    handles, labels = rate_ax.get_legend_handles_labels()
    if points_ax is not None:
        points_ax.set_ylabel("points/s")
        points_ax.set_ylim(bottom=0)
        more = points_ax.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    rate_ax.legend(handles, labels, loc="lower right", fontsize=8)
    lat_ax.set_ylabel("latency ms (2xx)")
    lat_ax.set_yscale("log")
    lat_ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    lat_ax.legend(loc="upper right", fontsize=8, ncol=len(scenarios))
    err_ax.set_ylabel("per second")
    err_ax.set_ylim(bottom=0, top=max(1.0, err_ax.get_ylim()[1]))
    err_ax.set_xlabel("seconds since start (grey: warm-up, not in the figures)")
    err_ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(
        f"luminate loadtest {run['url']}  run {run['run_id']}  "
        f"({run['workers']} worker(s), {run['tenants']} tenant(s))",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
