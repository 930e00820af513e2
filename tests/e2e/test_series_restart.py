"""Series counts survive a restart: a tenant at its series limit is still at it after
`luminate serve` stops and starts again on the same data directory, whether it stopped cleanly
or was killed (once a sync had run); points of its existing series are still accepted. The
negative control kills the process before any sync: the count is lost, as documented. Every new
limits setting that is invalid stops `serve` with one line naming the variable."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from testbed.net import free_port
from tests.e2e.server import LuminateProcess
from tests.support.cli import clean_env
from tests.support.tokens import TEST_SECRET

LIMIT = 20


def _server(tmp_path: Path, sync_s: float) -> LuminateProcess:
    env = {
        "LUMINATE_CARDINALITY_MAX_SERIES": str(LIMIT),
        "LUMINATE_LIMITS_SERIES_SYNC_INTERVAL_SECONDS": str(sync_s),
    }
    return LuminateProcess(tmp_path / "data", tmp_path / "luminate.log", env)


def _write(proc: LuminateProcess, tenant: str, series: list[str]) -> dict[str, int]:
    now = time.time_ns() // 1_000_000
    metrics = [
        {"name": "m", "timestamp": now, "value": 1.0, "dimensions": {"s": s}} for s in series
    ]
    r = httpx.post(
        proc.url + "/api/v1/write",
        json={"metrics": metrics},
        headers=proc.headers(tenant),
        timeout=30,
    )
    body = r.json()
    assert {e["error"]["code"] for e in body["errors"]} <= {"series_limit_exceeded"}, body
    return {"accepted": body["accepted"], "refused": body["rejected"]}


def _restart(proc: LuminateProcess, how: str) -> None:
    if how == "SIGTERM":
        assert proc.stop() == 0
    else:
        proc.kill()
    proc.start()


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9"])
def test_a_tenant_at_its_series_limit_stays_there_after_a_restart(tmp_path: Path, how: str) -> None:
    proc = _server(tmp_path, sync_s=0.2).start()
    try:
        # An embedded store has one process by construction: global limits, one member.
        health = httpx.get(proc.internal_url + "/api/v1/health", timeout=10).json()
        limits = health["components"]["limits"]
        assert limits == {
            "status": "ok",
            "configured": "global",
            "mode": "global",
            "members": 1,
            "discovery": "embedded: one process owns the data directory",
        }
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        known = [f"s{i}" for i in range(LIMIT)]
        assert _write(proc, tenant, known) == {"accepted": LIMIT, "refused": 0}
        assert _write(proc, tenant, ["new0"]) == {"accepted": 0, "refused": 1}
        time.sleep(1.0)  # several sync intervals: the count is saved
        _restart(proc, how)
        assert _write(proc, tenant, ["new1", "new2"]) == {"accepted": 0, "refused": 2}
        assert _write(proc, tenant, known) == {"accepted": LIMIT, "refused": 0}
    finally:
        proc.kill()


def test_a_kill_before_any_sync_loses_the_count(tmp_path: Path) -> None:
    # The negative control: with no sync before the kill the process starts from zero, so the
    # test above would fail if counts were not restored.
    proc = _server(tmp_path, sync_s=3600).start()
    try:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        assert _write(proc, tenant, [f"s{i}" for i in range(LIMIT)])["accepted"] == LIMIT
        _restart(proc, "kill -9")
        assert _write(proc, tenant, ["new1", "new2"]) == {"accepted": 2, "refused": 0}
    finally:
        proc.kill()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LUMINATE_LIMITS_MODE": "cluster"}, "LUMINATE_LIMITS_MODE"),
        (
            {"LUMINATE_LIMITS_HEARTBEAT_INTERVAL_SECONDS": "0"},
            "LUMINATE_LIMITS_HEARTBEAT_INTERVAL_SECONDS",
        ),
        (
            {"LUMINATE_LIMITS_HEARTBEAT_TIMEOUT_SECONDS": "five"},
            "LUMINATE_LIMITS_HEARTBEAT_TIMEOUT_SECONDS",
        ),
        (
            {
                "LUMINATE_LIMITS_HEARTBEAT_INTERVAL_SECONDS": "10",
                "LUMINATE_LIMITS_HEARTBEAT_TIMEOUT_SECONDS": "15",
            },
            "LUMINATE_LIMITS_HEARTBEAT_TIMEOUT_SECONDS (15) must be at least twice "
            "LUMINATE_LIMITS_HEARTBEAT_INTERVAL_SECONDS (10)",
        ),
        (
            {"LUMINATE_LIMITS_SERIES_SYNC_INTERVAL_SECONDS": "inf"},
            "LUMINATE_LIMITS_SERIES_SYNC_INTERVAL_SECONDS",
        ),
    ],
)
def test_bad_limits_settings_stop_serve_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    base = clean_env()
    out = subprocess.run(
        [sys.executable, "-m", "luminate", "serve"],
        env={
            **base,
            "JWT_SECRET": TEST_SECRET,
            "LUMINATE_DATA_DIR": str(tmp_path / "data"),
            "LUMINATE_SERVER_HOST": "127.0.0.1",
            "LUMINATE_SERVER_PORT": str(free_port()),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert named in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
