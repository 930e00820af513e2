"""The `luminate` command as an operator uses it: exit codes and messages, never tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from luminate.auth.tokens import Scope, TokenVerifier
from tests.conftest import TEST_SECRET
from tests.e2e.server import LuminateProcess


def luminate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LUMINATE_")}
    base.pop("JWT_SECRET", None)
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "luminate", *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=120,
        check=False,
    )


def test_token_create_signs_a_verifiable_token() -> None:
    out = luminate(
        "token",
        "create",
        "--tenant",
        "acme",
        "--scopes",
        "read,admin",
        "--ttl",
        "5m",
        JWT_SECRET=TEST_SECRET,
    )
    assert out.returncode == 0, out.stderr
    principal = TokenVerifier(TEST_SECRET, algorithms=["HS256"]).verify(
        f"Bearer {out.stdout.strip()}"
    )
    assert principal.tenant == "acme"
    assert principal.scopes == {Scope.READ, Scope.ADMIN}


def test_cli_errors_are_one_clear_line() -> None:
    cases = [
        (("token", "create", "--tenant", "acme"), {}, "JWT_SECRET"),
        (("token", "create", "--tenant", "acme"), {"JWT_SECRET": "short"}, "at least 32 bytes"),
        (("token", "create", "--tenant", "a b"), {"JWT_SECRET": TEST_SECRET}, "tenant"),
        (
            ("token", "create", "--tenant", "a", "--scopes", "root"),
            {"JWT_SECRET": TEST_SECRET},
            "unknown scope",
        ),
        (
            ("token", "create", "--tenant", "a", "--ttl", "forever"),
            {"JWT_SECRET": TEST_SECRET},
            "duration",
        ),
        (("config", "show"), {"LUMINATE_SERVER_PORTT": "1"}, "LUMINATE_SERVER_PORTT"),
        (("config", "show"), {"LUMINATE_SERVER_PORT": "x"}, "LUMINATE_SERVER_PORT"),
        (
            ("serve",),
            {
                "LUMINATE_STORAGE_BACKEND": "clickhouse",
                "LUMINATE_CLICKHOUSE_HOSTS": "127.0.0.1:1",
                "JWT_SECRET": TEST_SECRET,
            },
            "ClickHouse unreachable",
        ),
    ]
    for args, env, needle in cases:
        out = luminate(*args, **env)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert needle in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_config_show_masks_secrets() -> None:
    out = luminate("config", "show", JWT_SECRET=TEST_SECRET, LUMINATE_SERVER_PORT="9999")
    assert out.returncode == 0
    shown = json.loads(out.stdout)
    assert shown["server_port"] == 9999
    assert shown["jwt_secret"] == "********"
    assert TEST_SECRET not in out.stdout


def test_migrate_twice_and_a_second_process_on_the_same_store(
    tmp_path: Path, start_server: Callable[..., LuminateProcess]
) -> None:
    data = tmp_path / "store"
    for _ in range(2):
        out = luminate("migrate", LUMINATE_DATA_DIR=str(data))
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["backend"] == "embedded"
    server = start_server(data_dir=data)
    second = luminate("migrate", LUMINATE_DATA_DIR=str(data))
    assert second.returncode == 2
    assert "in use by another process" in second.stderr
    assert server.proc is not None and server.proc.poll() is None
