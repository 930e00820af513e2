"""The comparison table: one row per measure, one column per system, each peer's figure followed
by its ratio to Luminate's."""

from __future__ import annotations

from typing import Any

from bench.report import _table

NAMES = {
    "luminate": "Luminate",
    "victoriametrics": "VictoriaMetrics",
    "influxdb": "InfluxDB",
    "prometheus": "Prometheus",
    "clickhouse": "raw ClickHouse 18.16",
}


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _cell(value: float | None, base: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    text = _fmt(value, digits)
    if base and value and base != value:
        text += f" ({value / base:.2g}x)"
    return text


def render(doc: dict[str, Any]) -> str:
    results = doc["results"]
    systems = list(dict.fromkeys(r["system"] for r in results))
    scenarios = list(dict.fromkeys(r["scenario"] for r in results))
    by = {(r["scenario"], r["system"]): r for r in results}
    lines = [
        "Luminate and its peers, side by side",
        f"command: {doc['command']}",
        f"started {doc['started']}, {doc['cpus']} CPUs, load average at start "
        f"{doc['loadavg_start']}, at end {doc['loadavg_end']}",
        "(x) = the system's figure / Luminate's",
        "",
    ]
    rows: list[list[str]] = []

    def row(label: str, get: Any, digits: int = 0) -> None:
        for s in scenarios:
            base = get(by[(s, "luminate")]) if (s, "luminate") in by else None
            cells = []
            for name in systems:
                r = by.get((s, name))
                cells.append(_cell(get(r), base, digits) if r else "n/a")
            rows.append([f"{label}, {s}", *cells])

    row("ingest points/s", lambda r: r["ingest"]["points_per_s"])
    row("server CPU us/point", lambda r: r["ingest"]["cpu_us_per_point"], 2)
    for q in ("p95_one_customer_by_endpoint", "count_per_minute_one_customer", "avg_by_customer"):
        row(f"{q} p95 ms", lambda r, q=q: r["queries"][q]["p95_ms"], 1)
    row("disk bytes/point", lambda r: r["bytes_per_point"], 1)
    lines += _table(["measure, scenario", *(NAMES[s] for s in systems)], rows)
    lines.append("")
    lines.append(
        "Checks against the oracle (first answer of each query) and load average per system:"
    )
    for r in results:
        checks = ", ".join(
            f"{q.split('_')[0]} {'ok' if v['check'].get('ok') else 'DIFFERS'}"
            + (
                f" (rank error {v['check']['max_rank_error']:.3f})"
                if "max_rank_error" in v["check"]
                else ""
            )
            for q, v in r["queries"].items()
        )
        lines.append(
            f"  {r['scenario']}/{NAMES[r['system']]}: {checks}; load {r['ingest']['loadavg']} "
            f"during ingest, {r['loadavg_end']} at end; query runs "
            + "/".join(str(v["runs"]) for v in r["queries"].values())
        )
    for f in doc.get("failures", []):
        lines.append(f"  {f['scenario']}/{NAMES[f['system']]}: FAILED: {f['error'][:300]}")
    lines.append("")
    lines.append("Server CPU during ingest by thread (name without its number), us/point:")
    for r in results:
        by_thread = r["ingest"].get("cpu_us_per_point_by_thread") or {}
        shown = ", ".join(f"{name} {us:g}" for name, us in list(by_thread.items())[:5])
        lines.append(f"  {r['scenario']}/{NAMES[r['system']]}: {shown or 'not measured'}")
    inserts = [
        f"{r['scenario']} {r['ingest']['points_per_insert']:,}"
        for r in results
        if r["ingest"].get("points_per_insert")
    ]
    if inserts:
        lines.append(f"Luminate points per storage insert: {', '.join(inserts)}")
    settings = doc["config"].get("env")
    if settings and settings != "[]":
        lines.append(f"Luminate settings beyond the defaults: {settings}")
    return "\n".join(lines)
