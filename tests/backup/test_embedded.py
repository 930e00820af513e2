"""The embedded store end to end: a known data set written to a running server, backed up by
that server (it owns the store), the store wiped, the backup restored into an empty directory,
and a server on the restored store answering exactly as before."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.s3 import S3Server
from tests.backup import dataset
from tests.backup.cli import BackupCli
from tests.e2e.server import LuminateProcess

pytestmark = pytest.mark.e2e
BACKUP_TOKEN = "backup-token-0123456789abcdef"


def serving(tmp_path: Path, data_dir: Path, cli: BackupCli, name: str) -> LuminateProcess:
    token = tmp_path / "backup-token"
    token.write_text(BACKUP_TOKEN)
    cli.extra["LUMINATE_BACKUP_TOKEN_FILE"] = str(token)
    extra = {k: v for k, v in cli.env().items() if k.startswith("LUMINATE_BACKUP_")}
    proc = LuminateProcess(data_dir, tmp_path / f"{name}.log", env_extra=extra)
    cli.extra["LUMINATE_BACKUP_SERVER_URL"] = proc.internal_url
    return proc.start()


@pytest.fixture
def cli(s3: S3Server, tmp_path: Path) -> BackupCli:
    return BackupCli(s3, tmp_path / "live")


@pytest.fixture
def server(tmp_path: Path, cli: BackupCli) -> Iterator[LuminateProcess]:
    proc = serving(tmp_path, cli.data_dir, cli, "live")
    try:
        yield proc
    finally:
        proc.stop()


def test_backup_of_a_running_server_restores_into_an_empty_store(
    tmp_path: Path, cli: BackupCli, server: LuminateProcess
) -> None:
    data = dataset.make()
    dataset.write(server, data)
    before = dataset.answers(server, data)

    created = cli.ok("create")
    assert created["status"] == "complete"
    assert created["rows"] == sum(len(p) for p in data.points.values())
    listed = cli.ok("list")["backups"]
    assert [b["id"] for b in listed] == [created["id"]]
    server.stop()
    shutil.rmtree(cli.data_dir)

    restored = cli.ok("restore", created["id"])
    assert restored["restored_rows"] == created["rows"]
    again = serving(tmp_path, cli.data_dir, cli, "restored")
    try:
        assert dataset.summarize(dataset.read_back(again, data)) == data.oracle()
        assert dataset.answers(again, data) == before
    finally:
        again.stop()


def test_a_backup_taken_while_writes_continue_holds_every_point_acknowledged_before_it(
    tmp_path: Path, cli: BackupCli, server: LuminateProcess
) -> None:
    acked: list[tuple[float, int]] = []  # (when the write was answered, its sequence number)
    stop = threading.Event()
    headers = server.headers("acme")

    def writer() -> None:
        seq = 0
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                now = int(time.time() * 1000)
                body = {
                    "metrics": [
                        {"name": "seq", "timestamp": now, "value": seq + i, "dimensions": {}}
                        for i in range(50)
                    ]
                }
                resp = client.post(f"{server.url}/api/v1/write", json=body, headers=headers)
                assert resp.status_code == 200, resp.text
                acked.append((time.time(), seq + 49))
                seq += 50

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(1.0)
    began = time.time()
    created = cli.ok("create")
    time.sleep(0.5)
    stop.set()
    thread.join(30)
    before = [n for when, n in acked if when < began]
    after = [n for when, n in acked if when > began]
    assert before and after, "writes did not overlap the backup"

    server.stop()
    shutil.rmtree(cli.data_dir)
    cli.ok("restore", created["id"])
    restored = serving(tmp_path, cli.data_dir, cli, "restored")
    try:
        body = {
            "queryType": "range",
            "metricName": "seq",
            "timeRange": {"relative": "1h"},
            "limit": 100_000,
        }
        resp = httpx.post(f"{restored.url}/api/v1/query", json=body, headers=headers, timeout=60)
        assert resp.status_code == 200, resp.text
        values = {int(r["value"]) for r in resp.json()["results"]}
    finally:
        restored.stop()
    assert set(range(max(before) + 1)) <= values
    assert created["rows"] == len(values)


def test_the_backup_routes_need_the_backup_token(
    tmp_path: Path, cli: BackupCli, server: LuminateProcess
) -> None:
    url = f"{server.internal_url}/internal/v1/backups"
    missing = httpx.post(url, timeout=10)
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_token")
    wrong = httpx.post(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_token")
    tenant_token = httpx.post(url, headers=server.headers("acme", "admin"), timeout=10)
    assert tenant_token.status_code == 401
    good = {"Authorization": f"Bearer {BACKUP_TOKEN}"}
    unknown = httpx.get(f"{url}/jobs/nope", headers=good, timeout=10)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert httpx.get(url, headers=good, timeout=10).status_code == 405


def test_without_a_backup_token_the_routes_do_not_exist(tmp_path: Path) -> None:
    proc = LuminateProcess(tmp_path / "data", tmp_path / "plain.log").start()
    try:
        answer = httpx.post(
            f"{proc.internal_url}/internal/v1/backups",
            headers={"Authorization": f"Bearer {BACKUP_TOKEN}"},
            timeout=10,
        )
    finally:
        proc.stop()
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
