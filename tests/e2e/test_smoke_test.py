"""`luminate smoke-test` against real served processes: every check passes on a healthy server,
and each way a deployment or a token can be wrong is named precisely, with exit code 1 (2 for a
usage error)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from luminate.auth.tokens import create_token
from testbed.net import free_port
from tests.e2e.server import LuminateProcess
from tests.support.cli import luminate
from tests.support.tenants import new_tenant

StartServer = Callable[..., LuminateProcess]

CHECKS = ["healthz", "readyz", "startupz", "write", "read-back", "discovery", "self-metrics"]


def smoke_test(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    out = luminate("smoke-test", *args)
    return out, time.monotonic() - began


def verdicts(stdout: str) -> dict[str, str]:
    """Check name -> PASS/FAIL/SKIP, from the one line each check prints, in order."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        fields = line.split()
        if fields and fields[0] in CHECKS:
            found[fields[0]] = fields[1]
    assert list(found) == CHECKS, stdout
    return found


def line_of(stdout: str, check: str) -> str:
    return next(line for line in stdout.splitlines() if line.split()[:1] == [check])


def tenant() -> str:
    return new_tenant("smoke")


def test_a_healthy_server_passes_every_check(server: LuminateProcess) -> None:
    who = tenant()
    out, _ = smoke_test("--url", server.url, "--token", server.token(who))
    assert out.returncode == 0, out.stdout + out.stderr
    assert set(verdicts(out.stdout).values()) == {"PASS"}, out.stdout
    assert "7 passed, 0 failed, 0 skipped" in out.stdout
    assert out.stderr == ""

    # The point it wrote is really stored, once, under the run id it printed.
    run_id = line_of(out.stdout, "write").split("run=")[1].strip()
    r = httpx.post(
        server.url + "/api/v1/query",
        json={
            "queryType": "range",
            "metricName": "luminate_smoke_test",
            "timeRange": {"relative": "1h"},
            "filters": {"run": run_id},
        },
        headers=server.headers(who, "read"),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["results"]) == 1

    # A second run against the same tenant writes its own point and passes too.
    again, _ = smoke_test("--url", server.url + "/", "--token", server.token(who))
    assert again.returncode == 0, again.stdout
    assert line_of(again.stdout, "write").split("run=")[1].strip() != run_id


def test_self_metrics_are_checked_on_the_internal_url(server: LuminateProcess) -> None:
    public, _ = smoke_test("--url", server.url, "--token", server.token(tenant()))
    assert "not public (404)" in line_of(public.stdout, "self-metrics")
    out, _ = smoke_test(
        "--url",
        server.url,
        "--internal-url",
        server.internal_url,
        "--token",
        server.token(tenant()),
    )
    assert out.returncode == 0, out.stdout
    assert "version " in line_of(out.stdout, "self-metrics")


def test_self_metrics_on_the_public_url_fail_the_check(server: LuminateProcess) -> None:
    """Pointing --url at a listener that serves /metrics (here the internal one, as a load
    balancer exposing it would) fails the check with the reason."""
    out, _ = smoke_test("--url", server.internal_url, "--token", server.token(tenant()))
    assert verdicts(out.stdout)["self-metrics"] == "FAIL"
    assert "serves /metrics" in line_of(out.stdout, "self-metrics")


def test_a_token_without_write_scope_fails_the_write_check(server: LuminateProcess) -> None:
    out, _ = smoke_test("--url", server.url, "--token", server.token(tenant(), "read"))
    assert out.returncode == 1, out.stdout
    found = verdicts(out.stdout)
    assert found["write"] == "FAIL"
    assert found["read-back"] == found["discovery"] == "SKIP"
    assert found["healthz"] == found["readyz"] == found["self-metrics"] == "PASS"
    write = line_of(out.stdout, "write")
    assert "HTTP 403 insufficient_scope" in write
    assert "write" in write.split("insufficient_scope", 1)[1]


def test_a_token_without_read_scope_fails_the_reads(server: LuminateProcess) -> None:
    out, _ = smoke_test("--url", server.url, "--token", server.token(tenant(), "write"))
    assert out.returncode == 1, out.stdout
    found = verdicts(out.stdout)
    assert found["write"] == "PASS"
    assert found["read-back"] == found["discovery"] == "FAIL"
    assert "HTTP 403 insufficient_scope" in line_of(out.stdout, "read-back")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (
            create_token(
                "another-secret-0123456789-abcdefgh",
                tenant="t",
                scopes=["read", "write"],
                ttl_s=600,
            ),
            "invalid_token",
        ),
        ("not-a-jwt", "invalid_token"),
        (None, "token_expired"),
    ],
    ids=["wrong-secret", "garbage", "expired"],
)
def test_a_refused_token_names_the_reason(
    server: LuminateProcess, token: str | None, code: str
) -> None:
    if token is None:  # expired well beyond the server's leeway
        token = server.token(tenant(), ttl_s=-600)
    out, _ = smoke_test("--url", server.url, "--token", token)
    assert out.returncode == 1, out.stdout
    assert verdicts(out.stdout)["write"] == "FAIL"
    assert f"HTTP 401 {code}" in line_of(out.stdout, "write")


def test_an_unreachable_url_fails_fast_and_names_the_connection(server: LuminateProcess) -> None:
    port = free_port()  # nobody listens here
    out, took = smoke_test(
        "--url", f"http://127.0.0.1:{port}", "--token", server.token(tenant()), "--timeout", "3"
    )
    assert out.returncode == 1, out.stdout
    found = verdicts(out.stdout)
    assert found["healthz"] == "FAIL"
    assert set(list(found.values())[1:]) == {"SKIP"}
    assert "connection failed" in line_of(out.stdout, "healthz")
    assert "Connection refused" in line_of(out.stdout, "healthz")
    assert took < 3 + 10, took  # interpreter start-up plus at most one timeout


def test_a_server_that_never_answers_is_bounded_by_the_timeout() -> None:
    # Accepts connections (the kernel's backlog) and never answers a byte.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        out, took = smoke_test(
            "--url", f"http://127.0.0.1:{port}", "--token", "x", "--timeout", "1.5"
        )
    assert out.returncode == 1, out.stdout
    assert "no answer" in line_of(out.stdout, "healthz")
    assert "1.5 s" in line_of(out.stdout, "healthz")
    assert 1.5 <= took < 1.5 + 10, took


def test_a_draining_server_fails_readiness_with_its_status(start_server: StartServer) -> None:
    proc = start_server(LUMINATE_SHUTDOWN_DELAY_SECONDS="30")
    proc.signal(signal.SIGTERM)
    out, _ = smoke_test("--url", proc.url, "--token", proc.token(tenant()))
    assert out.returncode == 1, out.stdout
    found = verdicts(out.stdout)
    assert found["healthz"] == "PASS"
    assert found["readyz"] == "FAIL"
    assert "HTTP 503" in line_of(out.stdout, "readyz")
    assert "'draining'" in line_of(out.stdout, "readyz")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--url", "localhost:8080", "--token", "t"], "http:// or https://"),
        (["--url", "ftp://example.com", "--token", "t"], "http:// or https://"),
        (["--url", "http://", "--token", "t"], "no host"),
        (["--url", "http://example.com:port", "--token", "t"], "invalid port"),
        (["--url", "http://example.com/?x=1", "--token", "t"], "base URL"),
        (["--token", "t"], "--url"),
        (["--url", "http://127.0.0.1:1"], "--token"),
        (["--url", "http://127.0.0.1:1", "--token", " "], "--token"),
        (["--url", "http://127.0.0.1:1", "--token", "a\nb"], "--token"),
        (["--url", "http://exa mple.com", "--token", "t"], "whitespace"),
        (["--url", "http://127.0.0.1:1", "--token", "t", "--timeout", "soon"], "--timeout"),
        (["--url", "http://127.0.0.1:1", "--token", "t", "--timeout", "0"], "--timeout"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], needle: str) -> None:
    out, _ = smoke_test(*args)
    assert out.returncode == 2, (args, out.stdout, out.stderr)
    assert out.stdout == ""
    assert out.stderr.startswith("luminate: "), out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert needle in out.stderr, out.stderr
