"""The backup job's metrics reach a real Pushgateway under the names and labels the alerts
use: job="luminate-backup", backend=...; a failure keeps the last success and counts up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed.pushgateway import Pushgateway
from testbed.s3 import S3Server
from tests.backup import store
from tests.backup.cli import BackupCli

pytestmark = pytest.mark.e2e


def _series(gateway: Pushgateway) -> dict[str, tuple[dict[str, str], float]]:
    out = {}
    for family in text_string_to_metric_families(gateway.exposition()):
        for sample in family.samples:
            if sample.name.startswith("luminate_backup_") and not sample.name.endswith("_created"):
                out[sample.name] = (dict(sample.labels), sample.value)
    return out


def test_success_and_failure_are_pushed(
    s3: S3Server, pushgateway: Pushgateway, tmp_path: Path
) -> None:
    cli = BackupCli(s3, tmp_path / "data")
    cli.extra["LUMINATE_BACKUP_PUSHGATEWAY_URL"] = pushgateway.url
    store.fill(cli.data_dir, rows=2000)
    began = time.time()
    created = cli.ok("create")
    series = _series(pushgateway)
    labels = {"job": "luminate-backup", "backend": "embedded", "instance": ""}
    success_at = series["luminate_backup_last_success_timestamp_seconds"]
    assert success_at[0] == labels
    assert began <= success_at[1] <= time.time()
    assert series["luminate_backup_size_bytes"] == (labels, created["size_bytes"])
    assert 0 < series["luminate_backup_duration_seconds"][1] < time.time() - began + 1
    assert series["luminate_backup_failures_total"] == (labels, 0.0)
    assert "luminate_backup_last_failure_timestamp_seconds" not in series

    for attempt in (1, 2):
        failed = cli.run("create", LUMINATE_BACKUP_BUCKET="s3://no-such-bucket")
        assert failed.returncode == 1
        series = _series(pushgateway)
        assert series["luminate_backup_failures_total"] == (labels, float(attempt))
        assert series["luminate_backup_last_success_timestamp_seconds"] == success_at
        assert series["luminate_backup_last_failure_timestamp_seconds"][1] >= success_at[1]
