from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from luminate.settings import ConfigError, describe, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_environment() -> None:
    s = load_settings({})
    assert (s.server_host, s.server_port, s.storage_backend) == ("0.0.0.0", 8080, "embedded")
    s = load_settings(
        {
            "LUMINATE_SERVER_PORT": "9001",
            "LUMINATE_STORAGE_PROMOTED_DIMENSIONS": "a, b",
            "LUMINATE_STORAGE_FSYNC": "false",
            "JWT_SECRET": "s" * 40,
        }
    )
    assert s.server_port == 9001
    assert s.storage_promoted_dimensions == ["a", "b"]
    assert s.storage_fsync is False
    assert s.secret() == "s" * 40


def test_unknown_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="LUMINATE_SERVER_PROT"):
        load_settings({"LUMINATE_SERVER_PROT": "1"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LUMINATE_SERVER_PORT", "abc"),
        ("LUMINATE_SERVER_PORT", "70000"),
        ("LUMINATE_STORAGE_BACKEND", "mysql"),
        ("LUMINATE_LOG_LEVEL", "loud"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_yaml_file_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "luminate.yaml"
    f.write_text("server_port: 7000\nquery_max_limit: 5\n")
    s = load_settings({"LUMINATE_CONFIG_FILE": str(f), "LUMINATE_SERVER_PORT": "7001"})
    assert (s.server_port, s.query_max_limit) == (7001, 5)
    f.write_text("server_prot: 1\n")
    with pytest.raises(ConfigError, match="server_prot"):
        load_settings({"LUMINATE_CONFIG_FILE": str(f)})


def test_secret_file_and_masking(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    f.write_text("f" * 40 + "\n")
    s = load_settings({"JWT_SECRET_FILE": str(f), "JWT_SECRET": "ignored"})
    assert s.secret() == "f" * 40
    assert s.redacted()["jwt_secret"] == "********"
    with pytest.raises(ConfigError, match="JWT_SECRET_FILE"):
        load_settings({"JWT_SECRET_FILE": str(tmp_path / "missing")}).secret()


def test_every_setting_is_documented_and_the_reference_is_current() -> None:
    assert all(spec.description for spec in describe())
    generated = subprocess.run(
        [sys.executable, "-m", "luminate", "config", "docs"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (ROOT / "docs" / "configuration.md").read_text() == generated, (
        "docs/configuration.md is stale: regenerate with `luminate config docs`"
    )
