"""The storage contract suite runs unchanged against every backend listed in BACKENDS.

A backend fixture yields a migrated `Storage`. Tests isolate themselves by tenant (a fresh id per
test), which is also the tenancy guarantee under test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from luminate.storage.compile import Layout
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.store import Storage

PROMOTED = frozenset({"customer_id", "endpoint"})


@pytest.fixture(scope="session")
def embedded_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEngine]:
    # One embedded engine per process (chDB binds a process to one data path).
    engine = EmbeddedEngine(str(tmp_path_factory.mktemp("embedded") / "data"), pool_size=4)
    yield engine
    engine.close()


def _embedded(engine: EmbeddedEngine, layout: Layout) -> Storage:
    storage = Storage(engine, layout, fsync=False)
    storage.migrate()
    return storage


BACKENDS = ["embedded", "embedded-promoted"]
if os.environ.get("LUMINATE_TEST_CH"):
    BACKENDS.append("clickhouse")


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, embedded_engine: EmbeddedEngine) -> Storage:
    """Every backend, with dimensions read from arrays and (promoted) from their own columns."""
    if request.param == "embedded":
        return _embedded(embedded_engine, Layout())
    if request.param == "embedded-promoted":
        return _embedded(embedded_engine, Layout(PROMOTED))
    if request.param == "clickhouse":
        st = request.getfixturevalue("clickhouse_storage")
        assert isinstance(st, Storage)
        return st
    raise AssertionError(request.param)


@pytest.fixture(scope="session")
def clickhouse_storage() -> Iterator[Storage]:
    from luminate.storage.clickhouse import ClickHouseEngine, parse_hosts
    from luminate.storage.schema import Topology

    eng = ClickHouseEngine(
        parse_hosts([os.environ["LUMINATE_TEST_CH"]]),
        database="luminate_test",
        user="default",
        password="",
    )
    st = Storage(eng, Layout(PROMOTED), fsync=False, topology=Topology(database="luminate_test"))
    st.migrate()
    yield st
    eng.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_tenant() -> str:
    return f"o-{uuid.uuid4().hex[:12]}"
