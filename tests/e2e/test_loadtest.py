"""`luminate loadtest` against real `luminate serve` processes: thresholds pass a good run and
fail a breaching one naming the breach, 429s are reported apart from errors, what it reports as
acknowledged is what the server stored, and every way a run can be wrong (a bad threshold or
option, an unreachable or silent target, a refused or under-scoped token, a target answering
errors, a missing extra) ends in one line and a non-zero exit, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from luminate.auth.tokens import create_token
from luminate.loadtest.scenarios import METRICS, RUN_DIMENSION
from testbed.haproxy import HAProxy
from testbed.net import free_port
from tests.e2e.server import LuminateProcess
from tests.support.tokens import TEST_SECRET

StartServer = Callable[..., LuminateProcess]
SHORT = ("--duration", "3s", "--warmup", "1s")


def loadtest(
    *args: str, secret: str | None = TEST_SECRET, **extra_env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUMINATE_", "JWT_"))}
    if secret is not None:
        env["JWT_SECRET"] = secret
    env.update(extra_env)
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "luminate", "loadtest", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return out, time.monotonic() - began


def assert_one_line_failure(
    out: subprocess.CompletedProcess[str], code: int, says: str, *, ran: bool = False
) -> None:
    """Exit `code` and one line saying `says` on stderr (after progress lines if the run ran)."""
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stderr.strip().splitlines()
    if ran:
        assert all(" s " in line for line in lines[:-1]), lines  # progress: "  3/4 s ..."
        lines = lines[-1:]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("luminate loadtest: "), lines
    assert says in lines[0], lines[0]


def stored_points(server: LuminateProcess, tenant: str, run_id: str) -> int:
    total = 0
    for metric in METRICS:
        r = httpx.post(
            server.url + "/api/v1/query",
            headers=server.headers(tenant),
            json={
                "queryType": "aggregate",
                "metricName": metric,
                "aggregation": "count",
                "filters": {RUN_DIMENSION: run_id},
                "timeRange": {"relative": "1h"},
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        total += int(sum(row["count"] for row in r.json()["results"]))
    return total


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    base = tmp_path_factory.mktemp("loadtest")
    proc = LuminateProcess(base / "data", base / "server.log")
    try:
        yield proc.start()
    finally:
        proc.kill()


def test_a_run_within_its_thresholds_passes_and_reports_what_the_server_stored(
    server: LuminateProcess, tmp_path: Path
) -> None:
    summary, chart, ledger = tmp_path / "s.json", tmp_path / "c.png", tmp_path / "l.jsonl"
    out, _ = loadtest(
        "--url", server.url, "--write-rate", "10", "--query-rate", "4", "--batch-size", "200",
        "--tenants", "2", *SHORT, "--workers", "2",
        "--threshold", "write.p99<30s", "--threshold", "errors<1%",
        "--threshold", "write.rps>5", "--threshold", "write.pps>=1000",
        "--summary", str(summary), "--chart", str(chart), "--ledger", str(ledger),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    for t in ("write.p99<30s", "errors<1%", "write.rps>5", "write.pps>=1000"):
        assert f"threshold {t}: pass" in out.stdout
    s: dict[str, Any] = json.loads(summary.read_text())
    write = s["scenarios"]["write"]
    assert 20 <= write["requests"] <= 40, write  # 10/s for 3 s, warm-up excluded
    assert write["statuses"] == {"200": write["requests"]}
    assert write["points"] == 200 * write["requests"]
    assert s["scenarios"]["query"]["statuses"] == {"200": s["scenarios"]["query"]["requests"]}
    assert s["generator"]["workers"] == 2 and s["generator"]["cpu_us_per_request"] > 0
    assert [t["passed"] for t in s["thresholds"]] == [True] * 4
    assert {r["phase"] for r in s["timeline"]} >= {"warmup", "measured"}
    # Acknowledged (warm-up included) is exactly what the server holds for the run.
    acked = s["acknowledged"]["points_by_tenant"]
    assert set(acked) == {"loadtest-0", "loadtest-1"}
    run_id = s["run"]["run_id"]
    for tenant, points in acked.items():
        assert stored_points(server, tenant, run_id) == points
    rows = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert sum(r["points"] for r in rows) == s["acknowledged"]["points"]
    assert chart.read_bytes().startswith(b"\x89PNG") and chart.stat().st_size > 20_000


def test_a_breached_threshold_fails_the_run_naming_it_and_429s_are_not_errors(
    start_server: StartServer, tmp_path: Path
) -> None:
    limited = start_server(LUMINATE_RATELIMIT_WRITE_RPS="4", LUMINATE_RATELIMIT_BURST_SECONDS="1")
    summary = tmp_path / "s.json"
    out, _ = loadtest(
        "--url", limited.url, "--write-rate", "25", "--batch-size", "20", "--tenants", "1", *SHORT,
        "--threshold", "errors<1%", "--threshold", "write.rate_limited<10%",
        "--threshold", "write.p50<0.001ms", "--summary", str(summary),
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "threshold errors<1%: pass" in out.stdout
    assert "threshold write.rate_limited<10%: BREACHED" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == (
        "luminate loadtest: threshold breached: write.rate_limited<10%, write.p50<0.001ms"
    )
    write = json.loads(summary.read_text())["scenarios"]["write"]
    assert write["rate_limited"] > write["requests"] / 2, write
    assert write["errors"] == 0 and write["error_ratio"] == 0
    assert set(write["statuses"]) == {"200", "429"}


# Bad input: usage errors exit 2 before any request; target problems exit 1.


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--threshold", "write.p95<100"), "p95 needs a unit, ms or s"),
        (("--threshold", "write.p95<<1s"), "does not parse"),
        (("--threshold", "errors<1"), "errors is a percentage"),
        (("--threshold", "query.p95<1s"), "about the query scenario, which this run does not send"),
        (("--write-vus", "2"), "give --write-rate or --write-vus, not both"),
        (("--duration", "soon"), "--duration: 'soon' is not a duration"),
        (("--workers", "0"), "--workers must be between 1 and 64"),
        (("--batch-size", "0"), "--batch-size must be between"),
        (("--chart", "c.svg"), "name a .png file"),
        (("--token", "not-a-token"), "--token is not a JWT"),
    ],
)
def test_bad_options_are_one_line_usage_errors(args: tuple[str, ...], says: str) -> None:
    out, seconds = loadtest("--url", "http://127.0.0.1:9", "--write-rate", "5", *args)
    assert_one_line_failure(out, 2, says)
    assert seconds < 30


def test_missing_url_scenario_or_secret_are_usage_errors() -> None:
    assert_one_line_failure(loadtest("--write-rate", "1")[0], 2, "--url is required")
    out, _ = loadtest("--url", "http://127.0.0.1:9")
    assert_one_line_failure(out, 2, "nothing to send")
    out, _ = loadtest("--url", "ftp://example.invalid", "--write-rate", "1")
    assert_one_line_failure(out, 2, "--url must start with http:// or https://")
    out, _ = loadtest("--url", "http://127.0.0.1:9", "--write-rate", "1", secret=None)
    assert_one_line_failure(out, 2, "no --token given and no JWT_SECRET or JWT_SECRET_FILE")


def test_a_token_without_the_needed_scope_is_refused_before_sending() -> None:
    reader = create_token(TEST_SECRET, tenant="t1", scopes=["read"], ttl_s=600)
    out, _ = loadtest("--url", "http://127.0.0.1:9", "--token", reader, "--write-rate", "1")
    assert_one_line_failure(out, 2, "--token (tenant t1) lacks the write scope")


def test_a_token_the_server_refuses_stops_the_run_at_once(server: LuminateProcess) -> None:
    forged = create_token("another-secret-of-32-bytes-or-more!!", tenant="t1", scopes=["write"],
                          ttl_s=600)  # fmt: skip
    out, seconds = loadtest("--url", server.url, "--token", forged, "--write-rate", "5", *SHORT)
    assert_one_line_failure(out, 1, "the server refused the token of tenant t1 (401")
    assert seconds < 20


def test_an_unreachable_target_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out, seconds = loadtest("--url", url, "--write-rate", "5", *SHORT)
    assert_one_line_failure(out, 1, f"cannot reach {url}")
    assert seconds < 20


def test_a_target_that_never_answers_does_not_hang_the_run() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        out, seconds = loadtest("--url", url, "--write-rate", "5", "--timeout", "2s", *SHORT)
    assert_one_line_failure(out, 1, "no answer within 2 s")
    assert seconds < 20


def test_a_target_answering_errors_is_named_with_its_status_and_code(tmp_path: Path) -> None:
    body = '{"error": {"code": "storage_unavailable", "message": "storage is down"}}'
    target = HAProxy.fixed_answer(tmp_path, body, status=503)
    try:
        out, seconds = loadtest("--url", target.url, "--write-rate", "5", *SHORT)
    finally:
        target.stop()
    assert_one_line_failure(
        out, 1, "the target answers a write request with 503 storage_unavailable: storage is down"
    )
    assert seconds < 20


def test_a_run_in_which_every_request_fails_exits_non_zero_and_says_why(
    start_server: StartServer,
) -> None:
    # The one-point preflight write fits the body limit; the scenario's batches do not.
    small = start_server(LUMINATE_WRITE_MAX_BODY_BYTES="2000")
    out, _ = loadtest("--url", small.url, "--write-rate", "5", "--batch-size", "100", *SHORT)
    assert_one_line_failure(out, 1, "no request succeeded during the measured time", ran=True)
    assert "write statuses: 413 x" in out.stdout
    assert "write 413: body_too_large" in out.stdout


def test_without_the_loadtest_extra_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    # A package of the same name that fails to import, first on the path: as if not installed.
    shadow = tmp_path / "hdrh"
    shadow.mkdir()
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'hdrh'\", name='hdrh')\n"
    )
    out, _ = loadtest("--url", "http://127.0.0.1:9", "--write-rate", "1", PYTHONPATH=str(tmp_path))
    assert_one_line_failure(out, 2, "pip install 'luminate[loadtest]'")


def _self_signed(path: Path) -> Path:
    """A certificate for 127.0.0.1 and its key, in one PEM file (as HAProxy wants it)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(
        pem
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def test_an_https_target_is_loaded_with_its_certificate_verified(tmp_path: Path) -> None:
    pem = _self_signed(tmp_path / "target.pem")
    answer = '{"accepted": 10, "rejected": 0, "errors": []}'
    target = HAProxy.fixed_answer(tmp_path, answer, tls_pem=pem)
    url = target.url.replace("http://", "https://")
    args = ("--url", url, "--write-rate", "20", "--batch-size", "10", *SHORT)
    try:
        untrusted, _ = loadtest(*args)
        trusted, _ = loadtest(*args, "--threshold", "write.rps>10", SSL_CERT_FILE=str(pem))
    finally:
        target.stop()
    assert_one_line_failure(untrusted, 1, "certificate verify failed")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "threshold write.rps>10: pass" in trusted.stdout


def test_ctrl_c_stops_sending_and_reports_the_time_measured(
    server: LuminateProcess, tmp_path: Path
) -> None:
    summary = tmp_path / "s.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUMINATE_", "JWT_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "luminate", "loadtest", "--url", server.url, "--write-rate", "10",
         "--duration", "10m", "--warmup", "1s", "--summary", str(summary)],
        env={**env, "JWT_SECRET": TEST_SECRET}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err
    assert "luminate loadtest: stopped after" in err
    run = json.loads(summary.read_text())
    assert 1 < run["run"]["duration_s"] < 10 and run["run"]["interrupted_after_s"] < 15
    write = run["scenarios"]["write"]
    assert write["requests"] > 0 and write["statuses"] == {"200": write["requests"]}
    assert write["requests_per_s"] == pytest.approx(10, rel=0.3)
