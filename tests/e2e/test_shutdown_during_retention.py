"""SIGTERM right after start, while the start-up retention pass deletes old points, exits 0: the
engine is closed only once the statements running on other threads have returned (closing it
under a running mutation crashed the process with SIGSEGV)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from tests.e2e.server import LuminateProcess

DAY_MS = 86_400_000


def write_days(proc: LuminateProcess, headers: dict[str, str], days: range, n: int) -> None:
    now = time.time_ns() // 1_000_000
    for day in days:
        points = [
            {"name": "m", "timestamp": now - day * DAY_MS - i * 10, "value": 1.0} for i in range(n)
        ]
        resp = httpx.post(
            f"{proc.url}/api/v1/write", json={"metrics": points}, headers=headers, timeout=60
        )
        assert resp.status_code == 200, resp.text


def test_sigterm_during_the_startup_retention_pass_exits_0(tmp_path: Path) -> None:
    data = tmp_path / "data"
    setup = LuminateProcess(data_dir=data, log_path=tmp_path / "setup.log").start()
    headers = setup.headers("retained", "read,write,admin")
    resp = httpx.post(
        f"{setup.url}/api/v1/admin/retention", json={"days": 1}, headers=headers, timeout=120
    )
    assert resp.status_code == 200, resp.text
    codes = []
    try:
        for attempt in range(5):
            # Points older than the policy keeps, so the next start's retention pass has work.
            write_days(setup, headers, range(2, 6), 20_000)
            assert setup.stop() == 0
            proc = LuminateProcess(data_dir=data, log_path=tmp_path / f"run{attempt}.log")
            proc.launch()
            proc.wait_ready(60)
            proc.signal(signal.SIGTERM)
            assert proc.proc is not None
            codes.append(proc.proc.wait(60))
            setup = LuminateProcess(data_dir=data, log_path=tmp_path / f"setup{attempt}.log")
            setup.start()
    finally:
        setup.kill()
    assert codes == [0] * 5
