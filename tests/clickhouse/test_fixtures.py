"""The `clickhouse` marker: a test that would start a cluster without it fails instead, so that
`pytest -m "not clickhouse"` never starts a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clickhouse.harness import Cluster


def test_an_unmarked_test_cannot_start_a_cluster(tmp_path: Path) -> None:
    started: Cluster | None = None
    try:
        with pytest.raises(
            RuntimeError, match="starts a ClickHouse cluster without the clickhouse"
        ):
            started = Cluster.start(tmp_path / "cluster", "single", 1)
    finally:
        if started is not None:  # the tripwire failed: leave nothing running
            started.stop()
    assert not (tmp_path / "cluster").exists()
