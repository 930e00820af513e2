"""Restore refuses what would lose or corrupt data, and bad input is one clear line: non-empty
tables without --force, a schema that differs, wrong credentials, an unreachable endpoint, a
missing bucket, a corrupted or truncated object, a manifest from a newer version. Live data
never changes when a command refuses or fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.net import free_port
from testbed.s3 import S3Server
from tests.backup import store
from tests.backup.cli import BackupCli, one_error_line

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def taken(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[BackupCli, str]:
    """A store with data and one complete, verified backup of it."""
    cli = BackupCli(s3, tmp_path_factory.mktemp("source") / "data")
    store.fill(cli.data_dir, rows=6000)
    return cli, cli.ok("create")["id"]


def other_store(taken: tuple[BackupCli, str], tmp_path: Path, rows: int = 0) -> BackupCli:
    cli, _ = taken
    target = BackupCli(cli.s3, tmp_path / "target", prefix=cli.prefix)
    if rows:
        store.fill(target.data_dir, rows=rows, parts=1)
    return target


def test_restore_refuses_non_empty_tables_unless_forced(
    taken: tuple[BackupCli, str], tmp_path: Path
) -> None:
    source, backup = taken
    target = other_store(taken, tmp_path, rows=500)
    live = store.inspect(target.data_dir)

    refused = target.run("restore", backup)
    assert refused.returncode == 1
    assert "non-empty" in one_error_line(refused.stderr)
    assert "--force" in refused.stderr
    assert store.inspect(target.data_dir) == live

    target.ok("restore", backup, "--force")
    assert store.inspect(target.data_dir) == store.inspect(source.data_dir)


def test_restore_refuses_a_backup_whose_schema_differs(
    taken: tuple[BackupCli, str], tmp_path: Path
) -> None:
    _, backup = taken
    target = other_store(taken, tmp_path)
    store.alter(target.data_dir, "ALTER TABLE samples ADD COLUMN note String")
    refused = target.run("restore", backup)
    assert refused.returncode == 1
    line = one_error_line(refused.stderr)
    assert "does not match" in line and "samples.note (String) exists here but not" in line
    assert store.inspect(target.data_dir) == []


def test_restore_brings_the_backups_dimension_columns_along(
    taken: tuple[BackupCli, str], tmp_path: Path
) -> None:
    """Keys get their own column as points arrive: a store restored into gains the backup's
    dimension columns it lacks, and keeps its own (the restored rows hold no value there)."""
    source, backup = taken
    promoted = {"LUMINATE_STORAGE_PROMOTED_DIMENSIONS": "region"}
    target = other_store(taken, tmp_path)
    target.extra.update(promoted)
    restored = target.run("restore", backup)
    assert restored.returncode == 0, restored.stderr
    assert "dimension columns added to the live table: host" in restored.stderr
    assert store.inspect(target.data_dir, promoted) == store.inspect(source.data_dir)


BAD_SETTINGS = {
    "wrong-credentials": ({"secret": "wrong-secret-value"}, "refused the credentials"),
    "unreachable-endpoint": ({"LUMINATE_BACKUP_S3_ENDPOINT": "unreachable"}, "unreachable"),
    "missing-bucket": ({"LUMINATE_BACKUP_BUCKET": "s3://no-such-bucket/x"}, "does not exist"),
    "missing-key-file": (
        {"LUMINATE_BACKUP_S3_ACCESS_KEY_FILE": "/nonexistent/key"},
        "No such file",
    ),
}


@pytest.fixture(scope="module")
def bystander(
    taken: tuple[BackupCli, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[BackupCli, list[object]]:
    """A store with data of its own that every bad command below must leave as it is."""
    target = other_store(taken, tmp_path_factory.mktemp("bystander"), rows=300)
    return target, store.inspect(target.data_dir)


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_bad_settings_are_one_line_and_change_nothing(
    taken: tuple[BackupCli, str],
    bystander: tuple[BackupCli, list[object]],
    tmp_path: Path,
    case: str,
) -> None:
    source, backup = taken
    change, expected = BAD_SETTINGS[case]
    target, live = bystander
    overrides = dict(change)
    if "secret" in overrides:
        wrong = tmp_path / "wrong-secret"
        wrong.write_text(overrides.pop("secret"))
        overrides["LUMINATE_BACKUP_S3_SECRET_KEY_FILE"] = str(wrong)
    if overrides.get("LUMINATE_BACKUP_S3_ENDPOINT") == "unreachable":
        overrides["LUMINATE_BACKUP_S3_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    for args in (["create"], ["list"], ["restore", backup, "--force"]):
        out = target.run(*args, **overrides)
        assert out.returncode == 1, (args, out.stderr)
        assert expected in one_error_line(out.stderr), args
    assert store.inspect(target.data_dir) == live
    assert [b["id"] for b in source.ok("list")["backups"]] == [backup]


def _objects(s3: S3Server, prefix: str) -> list[str]:
    client = s3.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_a_damaged_object_fails_verify_and_restore_without_touching_live_data(
    s3: S3Server, tmp_path: Path, damage: str
) -> None:
    cli = BackupCli(s3, tmp_path / "source")
    store.fill(cli.data_dir, rows=3000)
    backup = cli.ok("create")["id"]
    data = [k for k in _objects(s3, f"{cli.prefix}/{backup}/engine/data/") if k.endswith(".bin")]
    victim = max(
        data, key=lambda k: s3.client().head_object(Bucket=s3.bucket, Key=k)["ContentLength"]
    )
    body = s3.client().get_object(Bucket=s3.bucket, Key=victim)["Body"].read()
    broken = body[: len(body) // 2] if damage == "truncated" else bytes(b ^ 0x5A for b in body)
    s3.client().put_object(Bucket=s3.bucket, Key=victim, Body=broken)

    out = cli.run("verify", backup)
    assert out.returncode == 1
    one_error_line(out.stderr)

    target = BackupCli(s3, tmp_path / "target", prefix=cli.prefix)
    store.fill(target.data_dir, rows=200, parts=1)
    live = store.inspect(target.data_dir)
    out = target.run("restore", backup, "--force")
    assert out.returncode == 1
    assert "live data untouched" in one_error_line(out.stderr)
    assert store.inspect(target.data_dir) == live


def test_a_manifest_from_a_newer_version_is_refused(s3: S3Server, tmp_path: Path) -> None:
    cli = BackupCli(s3, tmp_path / "source")
    store.fill(cli.data_dir, rows=1000)
    backup = cli.ok("create", "--no-verify")["id"]
    key = f"{cli.prefix}/{backup}/manifest.json"
    text = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    s3.client().put_object(
        Bucket=s3.bucket, Key=key, Body=text.replace(b'"format": 1', b'"format": 7', 1)
    )
    live = store.inspect(cli.data_dir)
    for args in (["verify", backup], ["restore", backup, "--force"]):
        out = cli.run(*args)
        assert out.returncode == 1
        assert "manifest format 7, newer than" in one_error_line(out.stderr)
    assert store.inspect(cli.data_dir) == live
