from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.bodies import (
    ALLOWED_ORIGIN,
    BODY_TIMEOUT_S,
    MAX_CONNECTIONS,
    SMALL_BODY_LIMIT,
    SMALL_POINTS_LIMIT,
    TINY_LIMITS,
    TINY_TIER,
)
from tests.e2e.server import LuminateProcess


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LuminateProcess]]:
    """Start `luminate serve` processes; every one is stopped (by its PID) afterwards."""
    started: list[LuminateProcess] = []

    def start(data_dir: Path | None = None, **env: str) -> LuminateProcess:
        n = len(started)
        proc = LuminateProcess(
            data_dir=data_dir or tmp_path / f"data{n}",
            log_path=tmp_path / f"server{n}.log",
            env_extra=env,
        )
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture(scope="session")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    """A server with small body and point-count limits, so size probes stay cheap, and a tier
    of tiny tenant limits for tokens that name it."""
    base = tmp_path_factory.mktemp("limited")
    overrides = base / "limits.yaml"
    overrides.write_text(yaml.safe_dump({"tiers": {TINY_TIER: TINY_LIMITS}}))
    proc = LuminateProcess(
        data_dir=base / "data",
        log_path=base / "server.log",
        env_extra={
            "LUMINATE_WRITE_MAX_BODY_BYTES": str(SMALL_BODY_LIMIT),
            "LUMINATE_WRITE_MAX_POINTS": str(SMALL_POINTS_LIMIT),
            "LUMINATE_LIMITS_OVERRIDES_FILE": str(overrides),
            "LUMINATE_CORS_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
            "LUMINATE_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
            "LUMINATE_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S),
        },
    )
    try:
        proc.start()
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    """One shared server for tests that only read and write their own tenant."""
    base = tmp_path_factory.mktemp("shared-server")
    proc = LuminateProcess(data_dir=base / "data", log_path=base / "server.log").start()
    yield proc
    proc.kill()
