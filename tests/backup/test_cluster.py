"""The 2 shards x 2 replicas cluster of ClickHouse 18.16 (no BACKUP statement): an agent
beside each server freezes one replica per shard and uploads it; the cluster is wiped; the
restore stages every shard through `detached/`, checks it, attaches it to one replica per shard,
and the other replicas catch up by replication. Same data, same answers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from testbed.net import free_port, port_open
from testbed.process import ManagedProcess
from testbed.s3 import S3Server
from tests.backup import dataset
from tests.backup.cli import BackupCli
from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
DATABASE = "luminate_backup_test"
TOKEN = "agent-token-0123456789abcdef"


@pytest.fixture
def cli(s3: S3Server, clickhouse_cluster: Cluster, tmp_path: Path) -> BackupCli:
    password = tmp_path / "ch-password"
    password.write_text(clickhouse_cluster.password)
    token = tmp_path / "token"
    token.write_text(TOKEN)
    return BackupCli(
        s3,
        tmp_path / "unused",
        extra={
            "LUMINATE_STORAGE_BACKEND": "clickhouse",
            "LUMINATE_CLICKHOUSE_HOSTS": ",".join(clickhouse_cluster.hosts),
            "LUMINATE_CLICKHOUSE_DATABASE": DATABASE,
            "LUMINATE_CLICKHOUSE_USERNAME": clickhouse_cluster.user,
            "LUMINATE_CLICKHOUSE_PASSWORD_FILE": str(password),
            "LUMINATE_CLICKHOUSE_CLUSTER": clickhouse_cluster.cluster_name,
            "LUMINATE_BACKUP_TOKEN_FILE": str(token),
        },
    )


@pytest.fixture
def agents(cli: BackupCli, clickhouse_cluster: Cluster, tmp_path: Path) -> Iterator[list[str]]:
    """`luminate backup agent` beside each server, as the sidecar runs in production."""
    started: list[ManagedProcess] = []
    urls = []
    try:
        for i, host in enumerate(clickhouse_cluster.hosts):
            port = free_port()
            env = cli.env(
                LUMINATE_CLICKHOUSE_HOSTS=host,
                LUMINATE_BACKUP_AGENT_HOST="127.0.0.1",
                LUMINATE_BACKUP_AGENT_PORT=str(port),
            )
            agent = ManagedProcess(
                f"agent-{i}",
                [sys.executable, "-m", "luminate", "backup", "agent"],
                tmp_path / f"agent-{i}.log",
                env=env,
            ).start()
            started.append(agent)
            agent.wait_until(partial(port_open, port), 60, "listening")
            urls.append(f"http://127.0.0.1:{port}")
        cli.extra["LUMINATE_BACKUP_AGENT_URLS"] = ",".join(urls)
        yield urls
    finally:
        for agent in started:
            agent.stop()


def _server(cli: BackupCli, tmp_path: Path, name: str) -> LuminateProcess:
    env = {k: v for k, v in cli.env().items() if k.startswith("LUMINATE_CLICKHOUSE_")}
    env["LUMINATE_STORAGE_BACKEND"] = "clickhouse"
    proc = LuminateProcess(tmp_path / name, tmp_path / f"{name}.log", env_extra=env)
    proc.migrate()
    return proc.start()


def _script(cli: BackupCli, name: str, *args: str) -> dict[str, Any]:
    """The seed's wrapper scripts, with the seed's variables."""
    env = cli.env(
        BACKUP_BUCKET=cli.env()["LUMINATE_BACKUP_BUCKET"],
        LUMINATE=str(Path(sys.executable).parent / "luminate"),
    )
    out = subprocess.run(
        [str(REPO / "scripts" / name), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _per_replica(cluster: Cluster) -> list[int]:
    return [
        int(cluster.execute(i, f"SELECT count() FROM {DATABASE}.samples_local")[0][0])
        for i in range(len(cluster.hosts))
    ]


def test_cluster_backup_restores_into_a_wiped_cluster(
    cli: BackupCli, agents: list[str], clickhouse_cluster: Cluster, tmp_path: Path
) -> None:
    cluster = clickhouse_cluster
    server = _server(cli, tmp_path, "before")
    try:
        data = dataset.make(per_cell=60)
        dataset.write(server, data)
        before = dataset.answers(server, data)
    finally:
        server.stop()
    replicas = _per_replica(cluster)
    assert replicas[0] == replicas[1] and replicas[2] == replicas[3]

    created = _script(cli, "backup-clickhouse.sh")
    assert created["strategy"] == "freeze"
    assert created["rows"] == sum(len(p) for p in data.points.values())
    assert created["server_version"].startswith("18.16")

    cluster.execute(0, f"DROP DATABASE {DATABASE} ON CLUSTER {cluster.cluster_name}")
    restored = _script(cli, "restore-clickhouse.sh", created["id"])
    assert restored["restored_rows"] == created["rows"]
    assert _per_replica(cluster) == replicas

    again = _server(cli, tmp_path, "after")
    try:
        assert dataset.summarize(dataset.read_back(again, data)) == data.oracle()
        assert dataset.answers(again, data) == before
    finally:
        again.stop()

    refused = cli.run("restore", created["id"])
    assert refused.returncode == 1
    assert "non-empty" in refused.stderr
    cluster.execute(0, f"DROP DATABASE {DATABASE} ON CLUSTER {cluster.cluster_name}")
