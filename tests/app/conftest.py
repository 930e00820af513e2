"""Apps for the in-process tier: one shared app, one with small limits (each started once for the
whole tier and stopped after its last test), and a factory for tests that need settings of their
own. Every app runs over the session's embedded engine, so tests isolate themselves by tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from luminate.storage.embedded import EmbeddedEngine
from tests.app.bodies import (
    ALLOWED_ORIGIN,
    SMALL_BODY_LIMIT,
    SMALL_POINTS_LIMIT,
    TINY_LIMITS,
    TINY_TIER,
)
from tests.app.inprocess import InProcessApp, StartApp, serving


@pytest.fixture
def start_app(embedded_engine: EmbeddedEngine, tmp_path: Path) -> Iterator[StartApp]:
    """Start apps with extra settings (environment variables); each is shut down afterwards."""
    started: list[InProcessApp] = []

    def start(**env: str) -> InProcessApp:
        app = InProcessApp(embedded_engine, tmp_path / f"app{len(started)}.log", env)
        started.append(app.start())
        return app

    yield start
    for app in reversed(started):
        app.stop()


@pytest.fixture(scope="package")
def server(
    embedded_engine: EmbeddedEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessApp]:
    """One shared app for tests that only read and write their own tenant."""
    with serving(embedded_engine, tmp_path_factory.mktemp("app")) as app:
        yield app


@pytest.fixture(scope="package")
def limited(
    embedded_engine: EmbeddedEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessApp]:
    """An app with small body and point-count limits, so size probes stay cheap, and a tier of
    tiny tenant limits for tokens that name it."""
    base = tmp_path_factory.mktemp("limited")
    overrides = base / "limits.yaml"
    overrides.write_text(yaml.safe_dump({"tiers": {TINY_TIER: TINY_LIMITS}}))
    with serving(
        embedded_engine,
        base,
        LUMINATE_WRITE_MAX_BODY_BYTES=str(SMALL_BODY_LIMIT),
        LUMINATE_WRITE_MAX_POINTS=str(SMALL_POINTS_LIMIT),
        LUMINATE_LIMITS_OVERRIDES_FILE=str(overrides),
        LUMINATE_CORS_ALLOWED_ORIGINS=ALLOWED_ORIGIN,
    ) as app:
        yield app
