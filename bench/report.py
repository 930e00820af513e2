"""The human-readable report: plain fixed-width tables built from the results document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MB = 1024 * 1024


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Columns padded to their widest cell; the first `left` columns left-aligned."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _int(x: float) -> str:
    return f"{x:,.0f}"


def _f(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def header(doc: dict[str, Any]) -> list[str]:
    cfg = doc["config"]
    env = doc["environment"]
    data = doc["data"]
    extra = ", ".join(f"{k}={v}" for k, v in cfg["extra_env"].items()) or "none"
    return [
        f"command: {doc['command']}",
        f"mode: {cfg['mode']}   started: {doc['started']}",
        (
            f"data: metric {data['metric']}; customer_id x{data['customers']}, endpoint "
            f"x{data['endpoints']}, region x{data['regions']}, user_id uniform over "
            f"{data['users']:,}; lognormal values; seed {cfg['seed']}"
        ),
        (
            f"time span: {cfg['span_s']} s ({cfg['span_s'] / 3600:g} h) ending when each data "
            f"set is loaded; queries use timeRange.relative = {cfg['window']}"
        ),
        (
            f"clients: {cfg['clients']} processes, pre-encoded bodies over keep-alive HTTP/1.1; "
            f"queries: 1 connection, {cfg['warmups']} warm-ups + {cfg['repetitions']} timed each, "
            f"timeout {doc['query_timeout']}"
        ),
        (
            f"host: {env['cpus']} CPUs, Python {env['python']}, luminate {env['luminate']}, "
            f"chDB {env['chdb']}, commit {env['commit']}; load average at start "
            f"{env['loadavg_start']}"
        ),
        f"extra server environment: {extra}",
    ]


def ingest_table(doc: dict[str, Any]) -> list[str]:
    rows = []
    for v in doc["variants"]:
        for r in v["ingest"]:
            rows.append(
                [
                    v["name"],
                    _int(r["batch_size"]),
                    _int(r["points"]),
                    _int(r["points_per_s"]),
                    _f(r["mb_per_s"]),
                    _f(r["request_p50_ms"]),
                    _f(r["request_p99_ms"]),
                ]
            )
    headers = ["settings", "batch", "points", "points/s", "MB/s", "req p50 ms", "req p99 ms"]
    return _table(headers, rows)


def load_table(doc: dict[str, Any]) -> list[str]:
    rows = []
    for v in doc["variants"]:
        for s in v["datasets"]:
            disk = s["disk"]
            rows.append(
                [
                    v["name"],
                    _int(s["points"]),
                    _int(s["load"]["points_per_s"]),
                    _f(s["settle_s"]),
                    _int(disk["active_parts"]),
                    _f(disk["active_bytes_per_point"]),
                    _f(disk["total_bytes_per_point"]),
                    _f(s["memory"]["rss_after_load"] / MB, 0),
                    _f(s["memory"]["rss_after_queries"] / MB, 0),
                    _f(s["memory"]["peak"] / MB, 0),
                ]
            )
    headers = [
        "settings",
        "points",
        "load pts/s",
        "settle s",
        "parts",
        "B/pt parts",
        "B/pt du",
        "RSS MB",
        "RSS MB q",
        "peak MB",
    ]
    return _table(headers, rows)


def query_table(doc: dict[str, Any]) -> list[str]:
    rows = []
    for v in doc["variants"]:
        for s in v["datasets"]:
            for q in s["queries"]:
                rows.append(
                    [
                        v["name"],
                        _int(s["points"]),
                        q["name"],
                        _f(q["p50_ms"]),
                        _f(q["p95_ms"]),
                        _f(q["server_execution_p50_ms"]),
                        _int(q["rows_median"]),
                        _int(q["points_matched_median"]),
                        _int(q["points_scanned_median"]),
                    ]
                )
    headers = [
        "settings",
        "points",
        "query",
        "p50 ms",
        "p95 ms",
        "server p50",
        "rows",
        "matched",
        "scanned",
    ]
    return _table(headers, rows, left=1)


def render(doc: dict[str, Any]) -> str:
    variants = "; ".join(
        f"{v['name']} = {', '.join(f'{k}={x}' for k, x in v['env'].items()) or 'service defaults'}"
        for v in doc["variants"]
    )
    cfg = doc["config"]
    lines = [
        "Luminate benchmark",
        "==================",
        *header(doc),
        f"settings: {variants}",
        "",
        (
            f"Ingest: POST /api/v1/write, fresh server per row, {cfg['clients']} client "
            "processes (points/s over the sending phase only)"
        ),
        *ingest_table(doc),
        "",
        (
            f"Loaded data sets: fresh server each, loaded in batches of {cfg['load_batch_size']}; "
            f"disk and RSS measured after waiting up to {cfg['settle_s']:g} s for merges"
        ),
        *load_table(doc),
        "",
        (
            "Query latency: client-observed over HTTP (p50/p95 ms); server p50 = the "
            "response's executionTimeMs"
        ),
        *query_table(doc),
        "",
        "Columns: B/pt parts = bytes of active data parts / points; B/pt du = whole data",
        "directory (as du, includes merged-away parts not yet deleted) / points; RSS MB after",
        "loading and settling, RSS MB q after the queries, peak = VmHWM; matched = points the",
        "query aggregated (sum of counts); scanned = the response's pointsScanned.",
    ]
    for note in doc.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)
