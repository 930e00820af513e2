"""A data directory written by the previous storage layout is migrated online and answers
exactly as before: while its rows are being copied (including after an interrupted copy), after
the copy, and against the numpy oracle. Then `luminate serve` started on such a directory copies
it in the background and answers the same over HTTP."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from tests.contract import oracle
from tests.e2e import previous_layout as prev
from tests.e2e.server import LuminateProcess

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _run(step: str, data_dir: Path) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "tests.e2e.previous_layout", step, str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    return msgspec.json.decode(out.stdout) if out.stdout else None


def _close(a: Any, b: Any) -> bool:
    """Equal, floats within 1e-9 relative (sums may add up in another order)."""
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return bool(a == b)


def _check_against_oracle(answers: dict[str, Any]) -> None:
    for tenant in prev.TENANTS:
        points = prev.all_points(tenant)
        for name, q in prev.QUERIES.items():
            got = answers[f"{tenant}/{name}"]
            filters = dict(q.filters)
            assert q.time_range is not None
            sel = oracle.select(
                points, q.metric, q.time_range.start_ms, q.time_range.end_ms, filters
            )
            if name == "range_one_customer":
                assert [r["timestamp"] for r in got] == sorted(p.ts for p in sel)
                continue
            if name == "rate_per_day":
                assert q.interval_ms is not None
                want_rate = oracle.rate(sel, q.group_by, q.interval_ms)
                assert len(got) == len(want_rate)
                for r in got:
                    key = (tuple(r["group"]), r["bucket"])
                    assert math.isclose(r["rate"], want_rate[key], rel_tol=1e-9), (name, key)
                continue
            assert q.aggregation is not None
            want = oracle.aggregate(sel, q.aggregation.value, q.group_by, q.interval_ms)
            assert len(got) == len(want), name
            for r in got:
                value, count, sorted_values = want[(tuple(r["group"]), r["bucket"] or 0)]
                assert r["count"] == count
                if q.aggregation.value.startswith("p"):
                    level = int(q.aggregation.value[1:]) / 100
                    assert oracle.within_rank_error(np.asarray(sorted_values), level, r["value"])
                else:
                    assert math.isclose(r["value"], value, rel_tol=1e-9), (name, r)


def test_previous_layout_directory_migrates_online_and_answers_identically(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _run("write", data)
    result = _run("migrate", data)
    assert result["migrating"] is True
    assert result["migrating_after"] is False
    total = sum(len(prev.all_points(t)) for t in prev.TENANTS)
    assert result["copied"] == total
    assert result["second_copy"] == 0
    # Every dimension key of the previous rows got its own column.
    assert result["promoted"] == ["customer_id", "endpoint", "region"]
    during = result["during"]
    _check_against_oracle(during)
    for phase in ("during_partial", "after"):
        diff = [k for k in during if not _close(during[k], result[phase][k])]
        assert diff == [], f"{phase} answers differ from before the copy: {diff}"


def test_serve_copies_a_previous_layout_directory_in_the_background(tmp_path: Path) -> None:
    """The directory also holds an insert a crash cut short before the upgrade: the server
    removes its rows from the previous layout's table before serving, so no answer counts them."""
    data = tmp_path / "data"
    _run("write-cut-short", data)
    server = LuminateProcess(data, tmp_path / "server.log").start()
    try:
        assert "removed inserts cut short by a crash" in server.log_path.read_text()
        tenant = prev.TENANTS[0]
        q = prev.QUERIES["avg_by_customer"]
        assert q.time_range is not None
        body = {
            "queryType": "aggregate",
            "metricName": q.metric,
            "timeRange": {"start": q.time_range.start_ms, "end": q.time_range.end_ms},
            "aggregation": "avg",
            "groupBy": ["customer_id"],
        }
        want = oracle.aggregate(
            oracle.select(
                prev.all_points(tenant), q.metric, q.time_range.start_ms, q.time_range.end_ms, {}
            ),
            "avg",
            ("customer_id",),
            None,
        )
        deadline = time.monotonic() + 60
        while "previous layout retired" not in server.log_path.read_text():
            assert time.monotonic() < deadline, server.log_path.read_text()[-2000:]
            # Answers are complete at every moment of the copy.
            got = _query(server, tenant, body)
            assert {r["groupKey"]["customer_id"]: r["count"] for r in got} == {
                k[0][0]: v[1] for k, v in want.items()
            }
            time.sleep(0.05)
        got = _query(server, tenant, body)
        assert len(got) == len(want)
        for r in got:
            value, count, _ = want[((r["groupKey"]["customer_id"],), 0)]
            assert r["count"] == count
            assert math.isclose(r["value"], value, rel_tol=1e-9)
    finally:
        server.stop()


def _query(server: LuminateProcess, tenant: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    import httpx

    r = httpx.post(
        f"{server.url}/api/v1/query", json=body, headers=server.headers(tenant), timeout=30
    )
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["results"]
    return rows
