"""The `luminate` command as an operator uses it: exit codes and messages, never tracebacks;
`token create` with private keys that do not fit, and configuration errors that stop `serve`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from luminate.auth.tokens import Scope, TokenVerifier
from testbed.net import free_port
from tests.e2e.server import LuminateProcess
from tests.support.cli import luminate
from tests.support.tokens import TEST_SECRET
from tests.unit.test_jwks import EC_A


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kid", "ec-a"), "--kid and --algorithm go with --private-key"),
        (("--private-key", "{pem}"), "--kid is required"),
        (("--private-key", "{pem}", "--kid", "k", "--algorithm", "RS256"), "not RS256"),
        (("--private-key", "{pem}", "--kid", "k", "--algorithm", "ES384"), "not ES384"),
        ((), "accepts no HS algorithm"),
    ],
)
def test_token_create_refuses_keys_that_do_not_fit(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    pem = tmp_path / "ec.pem"
    pem.write_bytes(EC_A.private_pem())
    argv = [a.format(pem=pem) for a in args]
    out = luminate(
        "token", "create", "--tenant", "acme", *argv, LUMINATE_JWT_ALGORITHMS="RS256,ES256"
    )
    assert out.returncode == 2, out.stdout
    assert message in out.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LUMINATE_JWT_ALGORITHMS": "RS256"},
            "set LUMINATE_JWT_JWKS_FILE or LUMINATE_JWT_JWKS_URL",
        ),
        ({"LUMINATE_CORS_ALLOWED_ORIGINS": "https://app.example/"}, "not origins"),
    ],
)
def test_configuration_errors_stop_serve_with_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    out = luminate(
        "serve",
        JWT_SECRET=TEST_SECRET,
        LUMINATE_DATA_DIR=str(tmp_path / "data"),
        LUMINATE_SERVER_HOST="127.0.0.1",
        LUMINATE_SERVER_PORT=str(free_port()),
        **env,
    )
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr
