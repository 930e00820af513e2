"""The session's embedded engine, shared by every tier that runs storage in the test process
(the contract suite, the in-process app tier, the service tests): chDB binds a process to one
data path, so there is one engine per test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from luminate.storage.embedded import EmbeddedEngine


@pytest.fixture(scope="session")
def embedded_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEngine]:
    engine = EmbeddedEngine(str(tmp_path_factory.mktemp("embedded") / "data"), pool_size=4)
    yield engine
    engine.close()
