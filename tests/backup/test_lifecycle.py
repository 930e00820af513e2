"""Retention and interruption: prune with an injected clock deletes exactly the expired
backups and never the newest complete one; a backup interrupted by S3 going away or by kill -9
is reported failed (or left incomplete), never listed as restorable, and ignored by restore."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from luminate.backup.manifest import Manifest, Status, Strategy
from testbed.s3 import S3Server
from tests.backup import store
from tests.backup.cli import BackupCli, one_error_line

pytestmark = pytest.mark.e2e


def _manifest(backup_id: str, status: Status) -> bytes:
    return Manifest(
        id=backup_id,
        status=status,
        backend="embedded",
        strategy=Strategy.ENGINE,
        luminate_version="0",
        server_version="0",
        database="default",
        schema_version="0",
        tables=[],
        partitions=[],
        started_at="",
        finished_at="",
        size_bytes=1,
        rows=0,
    ).encode()


def test_prune_deletes_exactly_the_expired_backups_and_keeps_the_newest_complete(
    s3: S3Server, tmp_path: Path
) -> None:
    cli = BackupCli(s3, tmp_path / "unused")
    client = s3.client()
    layout = {
        "20260101T020000Z-aaaaaa": Status.COMPLETE,
        "20260115T020000Z-bbbbbb": Status.FAILED,
        "20260120T020000Z-cccccc": Status.COMPLETE,
        "20260130T020000Z-dddddd": None,  # interrupted: objects, no manifest
        "20260201T020000Z-eeeeee": Status.COMPLETE,
        "20260202T020000Z-ffffff": Status.FAILED,
    }
    for backup_id, status in layout.items():
        client.put_object(Bucket=s3.bucket, Key=f"{cli.prefix}/{backup_id}/engine/x", Body=b"1")
        if status is not None:
            client.put_object(
                Bucket=s3.bucket,
                Key=f"{cli.prefix}/{backup_id}/manifest.json",
                Body=_manifest(backup_id, status),
            )
    client.put_object(Bucket=s3.bucket, Key=f"{cli.prefix}/not-a-backup/keep", Body=b"1")

    # 30 days of retention as of 2026-02-20: everything started before 2026-01-21 goes; the
    # incomplete one is older than a day and goes too.
    pruned = cli.ok("prune", "--now", "2026-02-20T00:00:00Z")
    assert pruned["deleted"] == [
        "20260101T020000Z-aaaaaa",
        "20260115T020000Z-bbbbbb",
        "20260120T020000Z-cccccc",
        "20260130T020000Z-dddddd",
    ]
    assert pruned["kept"] == ["20260201T020000Z-eeeeee", "20260202T020000Z-ffffff"]

    # A clock far ahead expires everything but the newest complete backup.
    far = cli.ok("prune", "--now", "2030-01-01T00:00:00Z")
    assert far["deleted"] == ["20260202T020000Z-ffffff"]
    assert far["kept"] == ["20260201T020000Z-eeeeee"]

    nothing = cli.run("prune", "--now", "2030-01-01T00:00:00Z")
    assert nothing.returncode == 3, nothing.stderr
    assert "nothing older than 30 days" in nothing.stdout
    listing = client.list_objects_v2(Bucket=s3.bucket, Prefix=f"{cli.prefix}/")
    keys = {o["Key"] for o in listing["Contents"]}
    assert f"{cli.prefix}/not-a-backup/keep" in keys
    assert f"{cli.prefix}/20260201T020000Z-eeeeee/manifest.json" in keys


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[S3Server]:
    server = S3Server(tmp_path / "s3").start()
    yield server
    server.stop()


def _start_create(cli: BackupCli, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "luminate", "backup", "create", "--no-verify"],
            env=cli.env(),
            stdout=out,
            stderr=out,
        )


def _wait_for_objects(s3: S3Server, prefix: str, timeout_s: float = 120) -> str:
    """The id of the backup once it has objects in S3 (its BACKUP is under way)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listing = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"{prefix}/")
        keys = [o["Key"] for o in listing.get("Contents", []) if "/engine/data/" in o["Key"]]
        if keys:
            return keys[0].split("/")[1]
        time.sleep(0.02)
    raise AssertionError("the backup wrote nothing")


def _freeze(s3: S3Server) -> None:
    """Stop S3 where it is (SIGSTOP): the backup can neither finish nor fail meanwhile."""
    assert s3.process is not None
    s3.process.signal(signal.SIGSTOP)


def test_a_backup_killed_midway_is_never_restorable(own_s3: S3Server, tmp_path: Path) -> None:
    s3 = own_s3
    cli = BackupCli(s3, tmp_path / "data")
    # Big enough that the backup is still writing when its first objects are listed.
    store.fill_bulk(cli.data_dir, rows=3_000_000, parts=60)
    good = cli.ok("create", "--no-verify")["id"]
    proc = _start_create(cli, tmp_path / "create.log")
    try:
        partial = _wait_for_objects_after(s3, cli.prefix, good)
        _freeze(s3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
        assert s3.process is not None
        s3.process.signal(signal.SIGCONT)
    assert partial != good
    assert [b["id"] for b in cli.ok("list")["backups"]] == [good]
    states = {b["id"]: b["state"] for b in cli.ok("list", "--all")["backups"]}
    assert states[partial] == "incomplete"
    refused = cli.run("restore", partial)
    assert refused.returncode == 1
    assert "never completed" in one_error_line(refused.stderr)
    # `latest` skips the partial backup: it restores the last complete one.
    target = BackupCli(s3, tmp_path / "target", prefix=cli.prefix)
    assert target.ok("restore", "latest")["id"] == good


def _wait_for_objects_after(s3: S3Server, prefix: str, earlier: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listing = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"{prefix}/")
        ids = {o["Key"].split("/")[1] for o in listing.get("Contents", [])} - {earlier}
        for backup_id in ids:
            keys = [
                o["Key"]
                for o in listing["Contents"]
                if o["Key"].startswith(f"{prefix}/{backup_id}/engine/data/")
            ]
            if keys:
                return backup_id
        time.sleep(0.02)
    raise AssertionError("the second backup wrote nothing")


def test_a_backup_whose_s3_goes_away_fails_and_is_not_restorable(
    own_s3: S3Server, tmp_path: Path
) -> None:
    cli = BackupCli(own_s3, tmp_path / "data")
    # Big enough that the backup is still writing when its first objects are listed.
    store.fill_bulk(cli.data_dir, rows=3_000_000, parts=60)
    proc = _start_create(cli, tmp_path / "create.log")
    try:
        partial = _wait_for_objects(own_s3, cli.prefix)
        _freeze(own_s3)
        own_s3.kill()
        assert proc.wait(180) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "create.log").read_text()
    one_error_line(output)
    own_s3.start()
    states = {b["id"]: b["state"] for b in cli.ok("list", "--all")["backups"]}
    assert states.get(partial, "absent") in {"incomplete", "failed", "absent"}
    assert cli.ok("list")["backups"] == []
    refused = cli.run("restore", "latest")
    assert refused.returncode == 1
    assert "no complete backup" in one_error_line(refused.stderr)
