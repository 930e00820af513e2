from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    """One shared server for tests that only read and write their own tenant and leave it
    serving (each asserts it still answers after what it sent)."""
    base = tmp_path_factory.mktemp("shared-server")
    proc = LuminateProcess(data_dir=base / "data", log_path=base / "server.log").start()
    yield proc
    proc.kill()
