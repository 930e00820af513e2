"""The services over the session's embedded engine, without HTTP: each test builds the service
it tests from real parts (storage, batcher, limiter, metrics registry) and isolates itself by
tenant. Tests are coroutines run on asyncio, the loop the services are written for."""

from __future__ import annotations

import pytest

from luminate.observability.metrics import Metrics
from luminate.settings import load_settings
from luminate.storage.calls import StorageCalls
from luminate.storage.compile import Layout
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.store import Storage
from tests.support.tenants import new_tenant


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def storage(embedded_engine: EmbeddedEngine) -> Storage:
    storage = Storage(embedded_engine, Layout(), fsync=False)
    storage.migrate()
    return storage


@pytest.fixture
def metrics() -> Metrics:
    """A fresh registry: counters start at zero in every test."""
    return Metrics(backend="embedded")


@pytest.fixture
def calls(metrics: Metrics) -> StorageCalls:
    return StorageCalls(metrics, load_settings({}).query_concurrency)


@pytest.fixture
def tenant() -> str:
    return new_tenant("svc")
