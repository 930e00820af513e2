"""scripts/run-staging-load-test.sh and the k6 scripts of test/load.

The script runs for real against a `luminate serve` (short durations): its three stages pass,
and a regression check whose threshold is breached makes it exit 1 with its error line. No
trusted k6 binary can be installed here (k6 is in neither PyPI, npm nor Debian's archive), so
the k6 scripts are syntax-checked with node, and the module that builds their bodies is run
with node: what it builds must be accepted whole by a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import LuminateProcess
from tests.support.tokens import TEST_SECRET

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "run-staging-load-test.sh"
K6 = REPO / "test" / "load"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    base = tmp_path_factory.mktemp("staging")
    proc = LuminateProcess(base / "data", base / "server.log")
    try:
        yield proc.start()
    finally:
        proc.kill()


def run_script(url: str, out_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUMINATE_", "JWT_"))}
    env.update(
        {
            "STAGING_URL": url,
            "DURATION": "3s",
            "REGRESSION_DURATION": "3s",
            "WARMUP": "1s",
            "VUS": "4",
            "BATCH_SIZE": "100",
            "WORKERS": "1",
            "MIN_POINTS_PER_S": "100",
            "OUT_DIR": str(out_dir),
            "JWT_SECRET": TEST_SECRET,
            # The venv's command, as an installed `luminate` would be on PATH.
            "LUMINATE": str(Path(sys.executable).parent / "luminate"),
            **settings,
        }
    )
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_the_script_is_shellcheck_clean() -> None:
    assert shutil.which("shellcheck"), "shellcheck is installed by scripts/setup-tools.sh"
    done = subprocess.run(
        ["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout


def test_the_three_stages_run_and_pass(server: LuminateProcess, tmp_path: Path) -> None:
    done = run_script(server.url, tmp_path, WRITE_P95="30s")
    assert done.returncode == 0, done.stdout + done.stderr
    stages = ["=== Write Load Test ===", "=== Query Load Test ===",
              "=== Checking for performance regressions ==="]  # fmt: skip
    positions = [done.stdout.index(s) for s in stages]
    assert positions == sorted(positions)
    assert "threshold write.p95<30s: pass" in done.stdout
    assert "threshold write.pps>=100: pass" in done.stdout
    assert done.stdout.rstrip().endswith("Load test completed successfully")
    for name in ("write", "query", "regression"):
        summary = json.loads((tmp_path / f"{name}.json").read_text())
        assert summary["all"]["requests"] > 0
        assert summary["all"]["errors"] == 0
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    query = json.loads((tmp_path / "query.json").read_text())
    assert query["run"]["scenarios"] == {"query": {"vus": 2}}  # VUS / 2


def test_a_regression_fails_the_script(server: LuminateProcess, tmp_path: Path) -> None:
    done = run_script(server.url, tmp_path, WRITE_P95="0.001ms")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "threshold write.p95<0.001ms: BREACHED" in done.stdout
    assert done.stderr.rstrip().endswith("ERROR: Performance regression detected!")
    assert "completed successfully" not in done.stdout


def test_an_unreachable_staging_url_stops_the_script_at_the_first_stage(tmp_path: Path) -> None:
    done = run_script("http://127.0.0.1:9", tmp_path)
    assert done.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in done.stderr
    assert "=== Query Load Test ===" not in done.stdout


@pytest.mark.parametrize("script", ["write_load.js", "query_load.js", "lib/bodies.js"])
def test_k6_scripts_are_valid_javascript_modules(script: str, tmp_path: Path) -> None:
    # Checked as ES modules (k6's syntax); a copy named .mjs makes node parse them so.
    copy = tmp_path / "check.mjs"
    copy.write_text((K6 / script).read_text())
    done = subprocess.run(
        ["node", "--check", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_k6_bodies_are_accepted_whole_by_a_real_server(server: LuminateProcess) -> None:
    now = time.time_ns() // 1_000_000
    program = (
        f"import {{ writeBody, queryBody }} from {json.dumps(str(K6 / 'lib' / 'bodies.js'))};\n"
        f"const out = {{ writes: [1, 2, 3].map((s) => writeBody(50, {now}, s, 'k6-test')),\n"
        "  queries: [0, 1, 2, 3].map((i) => queryBody(i, 7)) };\n"
        "console.log(JSON.stringify(out));\n"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", program],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout)
    headers = server.headers("k6-bodies")
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for body in built["writes"]:
            r = client.post("/api/v1/write", content=body)
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == 50
        kinds = set()
        for body in built["queries"]:
            r = client.post("/api/v1/query", content=body)
            assert r.status_code == 200, r.text
            kinds.add(r.json()["queryType"])
    assert kinds == {"aggregate", "range", "rate"}
