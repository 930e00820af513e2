"""`pip install .` into an empty virtualenv gives a `luminate` that serves: no run-time import
relies on something only the development environment has."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from luminate.auth.tokens import create_token
from testbed.net import free_port
from tests.support.tokens import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def test_a_plain_install_serves_writes_and_queries(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "-c",
            str(ROOT / "requirements.lock"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # Only the package and what it declares: no test or development tool came along.
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "luminate==" in listed
    for dev_only in ("pytest", "httpx", "mypy", "ruff", "schemathesis"):
        assert f"\n{dev_only}==" not in "\n" + listed, dev_only

    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "JWT_SECRET": TEST_SECRET,
        "LUMINATE_SERVER_HOST": "127.0.0.1",
        "LUMINATE_SERVER_PORT": str(port),
        "LUMINATE_DATA_DIR": str(tmp_path / "data"),
        "LUMINATE_STORAGE_FSYNC": "false",
    }
    log = (tmp_path / "serve.log").open("wb")
    # Run from an empty directory, so nothing of the source tree is importable.
    proc = subprocess.Popen(
        [str(venv / "bin" / "luminate"), "serve"], env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "not ready in 120 s"
            time.sleep(0.2)
        token = create_token(TEST_SECRET, tenant="pkg", scopes=["read", "write"], ttl_s=600)
        auth = {"Authorization": f"Bearer {token}"}
        now = time.time_ns() // 1_000_000
        points = [{"name": "m", "timestamp": now - i, "value": float(i)} for i in range(10)]
        resp = httpx.post(f"{url}/api/v1/write", json={"metrics": points}, headers=auth)
        assert resp.status_code == 200, resp.text
        query = {
            "queryType": "aggregate",
            "metricName": "m",
            "timeRange": {"relative": "1h"},
            "aggregation": "sum",
        }
        resp = httpx.post(f"{url}/api/v1/query", json=query, headers=auth, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.json()["results"][0]["value"] == sum(range(10))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
    assert os.path.isdir(tmp_path / "data")
