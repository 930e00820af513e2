"""luminate_cluster's configuration (deployments/clickhouse/).

The shipped files are what the templates render for production; per-pod ids follow the
StatefulSet ordinal the way remote_servers lays the pods out; and a loopback cluster rendered from
the same templates shards, replicates, and recovers from a killed replica and a ZooKeeper outage.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from deployments.clickhouse import render
from testbed.clickhouse.layout import render_layout
from tests.clickhouse.harness import REPO, SCRIPT, Cluster

DEPLOY = REPO / "deployments" / "clickhouse"
POD_ENV = DEPLOY / "pod-env.sh"
CLUSTER = "luminate_cluster"


def _parse(shipped: str) -> ET.Element:
    return render.parse_xml((DEPLOY / shipped).read_text())


# ---------------------------------------------------------------- shipped files vs templates


def test_shipped_files_are_the_production_render() -> None:
    differences = render.check_shipped()
    assert not differences, (
        "deployments/clickhouse drifted from its templates (edit templates/config.xml, then run "
        "deployments/clickhouse/render.py production):\n" + "\n".join(map(str, differences))
    )


def test_drift_is_reported_by_file_and_field(tmp_path: Path) -> None:
    for name, text in render.render_production().items():
        (tmp_path / name).write_text(text)
    shipped = tmp_path / "config.xml"
    shipped.write_text(
        shipped.read_text().replace("<session_timeout_ms>30000<", "<session_timeout_ms>10000<")
    )
    assert [str(d) for d in render.check_shipped(tmp_path)] == [
        "config.xml: zookeeper/session_timeout_ms: expected '30000', found '10000'"
    ]


def test_shipped_config_describes_the_production_cluster() -> None:
    config = _parse("config.xml")
    assert config.tag == "clickhouse"
    shards = config.findall(f"remote_servers/{CLUSTER}/shard")
    assert [
        [(r.findtext("host"), r.findtext("port")) for r in shard.findall("replica")]
        for shard in shards
    ] == [
        [
            ("clickhouse-0.clickhouse-headless", "9000"),
            ("clickhouse-1.clickhouse-headless", "9000"),
        ],
        [
            ("clickhouse-2.clickhouse-headless", "9000"),
            ("clickhouse-3.clickhouse-headless", "9000"),
        ],
    ]
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    # Servers talk to each other as `luminate`, the password coming from the environment only.
    for replica in config.iter("replica"):
        assert replica.findtext("user") == "luminate"
        password = replica.find("password")
        assert password is not None and password.get("from_env") and not password.text
    assert [(n.findtext("host"), n.findtext("port")) for n in config.findall("zookeeper/node")] == [
        (f"zookeeper-{k}.zookeeper-headless", "2181") for k in range(3)
    ]
    assert config.findtext("distributed_ddl/path") == "/clickhouse/task_queue/ddl"
    assert config.findtext("prometheus/port") == "9363"
    assert config.findtext("prometheus/endpoint") == "/metrics"
    assert config.find("macros") is None, "macros are per pod: they belong in macros.xml"


def test_shipped_macros_and_users_hold_no_per_pod_value_and_no_secret() -> None:
    macros = _parse("macros.xml")
    assert {m.tag: m.get("from_env") for m in macros.findall("macros/*")} == {
        "shard": "SHARD_ID",
        "replica": "REPLICA_ID",
    }
    assert all(not (m.text or "").strip() for m in macros.findall("macros/*"))

    users = _parse("users.xml")
    luminate = users.find("users/luminate")
    assert luminate is not None
    assert luminate.find("password") is None, "no plaintext password in the repository"
    digest = luminate.find("password_sha256_hex")
    assert digest is not None and digest.get("from_env") and not (digest.text or "").strip()
    default = users.find("users/default")
    assert default is not None and default.get("remove") == "remove"
    assert all(not (p.text or "").strip() for p in users.iter() if "password" in p.tag)


LOCAL_ONLY_FIELDS = re.compile(
    r"^(remote_servers/luminate_cluster/shard\[\d\]/replica\[\d\]/(host|port)"
    r"|zookeeper/node\[\d\]/(host|port)|zookeeper/session_timeout_ms"
    r"|path|tmp_path|logger/(log|errorlog)|prometheus/port)$"
)


def test_local_cluster_differs_from_production_only_in_hosts_ports_and_paths(
    tmp_path: Path,
) -> None:
    local = render_layout(tmp_path, "2x2", zk_nodes=3)
    production = render.render_production()
    for node in local.nodes:
        node_dir = Path(node.dir)
        differences = render.diff_xml(
            "config.xml", production["config.xml"], (node_dir / "config.d/config.xml").read_text()
        )
        unexpected = [str(d) for d in differences if not LOCAL_ONLY_FIELDS.match(d.field)]
        assert not unexpected, f"{node.name} differs from production beyond topology: {unexpected}"
        ports = {int(d.actual) for d in differences if d.field.endswith("port")}
        assert ports.isdisjoint({8123, 9000, 9009, 2181, 9363})
        assert (node_dir / "config.d/macros.xml").read_text() == production["macros.xml"]
        assert (node_dir / "users.d/users.xml").read_text() == production["users.xml"]


# ---------------------------------------------------------------- per-pod ids


def _pod_env(role: str, pod: str, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(POD_ENV), role, *command],
        env={"PATH": os.environ["PATH"], "POD_NAME": pod, **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def _ids(role: str, pod: str) -> dict[str, str]:
    result = _pod_env(role, pod)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_clickhouse_ordinals_give_two_shards_of_two_distinct_replicas() -> None:
    ids = [_ids("clickhouse", f"clickhouse-{o}") for o in range(4)]
    assert [int(i["SHARD_ID"]) for i in ids] == [1, 1, 2, 2]
    for shard in ("1", "2"):
        replicas = [i["REPLICA_ID"] for i in ids if i["SHARD_ID"] == shard]
        assert len(replicas) == 2 and len(set(replicas)) == 2
    # The macros agree with remote_servers: shard N lists exactly the pods whose SHARD_ID is N.
    config = _parse("config.xml")
    for number, shard_element in enumerate(config.findall(f"remote_servers/{CLUSTER}/shard"), 1):
        for host in (r.findtext("host") or "" for r in shard_element.findall("replica")):
            ordinal = int(host.split(".")[0].rsplit("-", 1)[1])
            assert ids[ordinal]["SHARD_ID"] == str(number), host


def test_zookeeper_ordinals_give_ids_1_to_3_matching_the_ensemble(tmp_path: Path) -> None:
    assert [_ids("zookeeper", f"zookeeper-{k}")["ZOO_MY_ID"] for k in range(3)] == ["1", "2", "3"]
    local = render_layout(tmp_path, "2x2", zk_nodes=3)
    zoo_cfg = (Path(local.zookeeper[0].dir) / "zoo.cfg").read_text()
    assert re.findall(r"^server\.(\d+)=127\.0\.0\.1:", zoo_cfg, re.MULTILINE) == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("role", "pod"),
    [
        ("clickhouse", "clickhouse"),
        ("clickhouse", "clickhouse-x"),
        ("clickhouse", "clickhouse-01"),
        ("zookeeper", "zookeeper-255"),
        ("nginx", "nginx-0"),
    ],
)
def test_pod_env_refuses_what_it_cannot_derive(role: str, pod: str) -> None:
    result = _pod_env(role, pod)
    assert result.returncode != 0 and "pod-env.sh:" in result.stderr and not result.stdout


def test_pod_env_starts_clickhouse_only_with_a_password(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    refused = _pod_env("clickhouse", "clickhouse-3", "touch", str(marker))
    assert refused.returncode != 0 and "CLICKHOUSE_LUMINATE_PASSWORD" in refused.stderr
    assert not marker.exists()

    started = _pod_env("clickhouse", "clickhouse-3", "env", CLICKHOUSE_LUMINATE_PASSWORD="s3cret")
    env = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    assert env["SHARD_ID"] == "2" and env["REPLICA_ID"] == "clickhouse-3"
    assert env["CLICKHOUSE_LUMINATE_PASSWORD_SHA256"] == hashlib.sha256(b"s3cret").hexdigest()


def test_cluster_scripts_are_shellcheck_clean() -> None:
    # The test command installs it (scripts/setup-tools.sh): missing, it is a failure, not a skip.
    assert shutil.which("shellcheck"), "shellcheck missing: run scripts/setup-tools.sh"
    result = subprocess.run(
        ["shellcheck", str(SCRIPT), str(POD_ENV)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------- live clusters


def _wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f}s for {what}")
        time.sleep(0.2)


def _create_tables(cluster: Cluster) -> str:
    """A fresh database with a replicated local table and a Distributed table, on every node."""
    db = f"t_{uuid.uuid4().hex[:10]}"
    on_cluster = f"ON CLUSTER {cluster.cluster_name}"
    cluster.execute(0, f"CREATE DATABASE {db} {on_cluster}")
    cluster.execute(
        0,
        f"CREATE TABLE {db}.points {on_cluster} (tenant String, seq UInt64, value Float64) "
        f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{db}/points', '{{replica}}') "
        "ORDER BY (tenant, seq)",
    )
    cluster.execute(
        0,
        f"CREATE TABLE {db}.points_all {on_cluster} AS {db}.points "
        f"ENGINE = Distributed({cluster.cluster_name}, {db}, points, cityHash64(tenant))",
    )
    return db


def _insert(cluster: Cluster, node: int, db: str, seqs: range) -> None:
    cluster.execute(
        node,
        f"INSERT INTO {db}.points_all (tenant, seq, value) VALUES",
        [(f"tenant_{s % 97}", s, s / 10) for s in seqs],
        settings={"insert_distributed_sync": 1},
    )


def _local(cluster: Cluster, node: int, db: str) -> tuple[int, int]:
    """(rows, sum of seq) in clickhouse-node's own replica."""
    ((rows, total),) = cluster.execute(node, f"SELECT count(), sum(seq) FROM {db}.points")
    return int(rows), int(total)


def _distributed_count(cluster: Cluster, node: int, db: str) -> int:
    return int(cluster.execute(node, f"SELECT count() FROM {db}.points_all")[0][0])


def _replicas_agree(cluster: Cluster, db: str) -> bool:
    return all(_local(cluster, 2 * s, db) == _local(cluster, 2 * s + 1, db) for s in range(2))


@pytest.mark.storage
def test_every_server_has_the_macros_of_its_ordinal(clickhouse_cluster: Cluster) -> None:
    c = clickhouse_cluster
    for ordinal in range(4):
        macros = dict(c.execute(ordinal, "SELECT * FROM system.macros"))
        assert macros == {"shard": str(ordinal // 2 + 1), "replica": f"clickhouse-{ordinal}"}
    rows = c.execute(
        0,
        "SELECT shard_num, replica_num, port FROM system.clusters WHERE cluster = %(c)s "
        "ORDER BY shard_num, replica_num",
        {"c": CLUSTER},
    )
    ports = c.tcp_ports
    assert rows == [(1, 1, ports[0]), (1, 2, ports[1]), (2, 1, ports[2]), (2, 2, ports[3])]


@pytest.mark.storage
def test_luminate_user_needs_its_password(clickhouse_cluster: Cluster) -> None:
    from clickhouse_driver.errors import ServerException

    c = clickhouse_cluster
    assert c.execute(2, "SELECT 1", user=c.user, password=c.password) == [(1,)]
    with pytest.raises(ServerException):
        c.execute(2, "SELECT 1", user=c.user, password=c.password + "x")


@pytest.mark.storage
def test_distributed_insert_lands_on_both_replicas_of_each_shard(
    clickhouse_cluster: Cluster,
) -> None:
    c = clickhouse_cluster
    db = _create_tables(c)
    _insert(c, 0, db, range(2000))

    _wait_until(lambda: _replicas_agree(c, db), 30, "both replicas of each shard to agree")
    shards = [_local(c, 2 * s, db) for s in range(2)]
    assert all(rows > 0 for rows, _ in shards), shards
    assert sum(rows for rows, _ in shards) == 2000
    assert sum(total for _, total in shards) == sum(range(2000))
    for s in range(2):  # each row sits on the shard its sharding key names
        misplaced = c.execute(
            2 * s, f"SELECT count() FROM {db}.points WHERE cityHash64(tenant) % 2 != {s}"
        )
        assert misplaced == [(0,)]
    assert [_distributed_count(c, n, db) for n in range(4)] == [2000] * 4


@pytest.mark.storage
def test_killed_replica_catches_up_after_restart(clickhouse_cluster: Cluster) -> None:
    c = clickhouse_cluster
    db = _create_tables(c)
    _insert(c, 0, db, range(1000))
    _wait_until(lambda: _replicas_agree(c, db), 30, "the first batch to replicate")

    c.kill_node(3)
    # clickhouse-0 is no replica of shard 2: it must find clickhouse-2 past the dead clickhouse-3.
    _insert(c, 0, db, range(1000, 2000))
    assert _distributed_count(c, 0, db) == 2000
    expected = _local(c, 2, db)

    def shard_2_active() -> int:
        return int(
            c.execute(
                2,
                "SELECT active_replicas FROM system.replicas "
                "WHERE database = %(db)s AND table = 'points'",
                {"db": db},
            )[0][0]
        )

    # The killed server's ZooKeeper session (4 s locally) has to expire before it can rejoin.
    _wait_until(lambda: shard_2_active() == 1, 20, "clickhouse-3's ZooKeeper session to expire")
    c.start_node(3)
    _wait_until(lambda: _local(c, 3, db) == expected, 30, "clickhouse-3 to catch up")
    _wait_until(lambda: shard_2_active() == 2, 15, "clickhouse-3 to be an active replica again")
    assert [_distributed_count(c, n, db) for n in range(4)] == [2000] * 4


@pytest.mark.storage
def test_zookeeper_outage_makes_tables_read_only_until_it_returns(
    clickhouse_cluster: Cluster,
) -> None:
    from clickhouse_driver.errors import Error

    c = clickhouse_cluster
    db = _create_tables(c)
    insert = f"INSERT INTO {db}.points (tenant, seq, value) VALUES"
    c.stop_zookeeper()
    try:
        with pytest.raises(Error):
            c.execute(0, insert, [("zk", 1, 1.0)])
    finally:
        c.start_zookeeper()

    def insert_works() -> bool:
        try:
            c.execute(0, insert, [("zk", 2, 2.0)])
        except Error:
            return False
        return True

    _wait_until(insert_works, 40, "replicated inserts to work again after ZooKeeper returned")
    # Leave the shared cluster as found: every replicated table writable again on every node.
    _wait_until(
        lambda: all(
            c.execute(n, "SELECT count() FROM system.replicas WHERE is_readonly") == [(0,)]
            for n in range(4)
        ),
        40,
        "every replicated table to leave read-only mode",
    )

    def ddl_works() -> bool:
        try:
            c.execute(0, f"DROP DATABASE IF EXISTS {db} ON CLUSTER {c.cluster_name}")
        except Error:  # 18.16 may fail the first distributed DDL after a lost session
            return False
        return True

    _wait_until(ddl_works, 40, "ON CLUSTER DDL to work again")


@pytest.mark.storage
def test_single_server_cluster(clickhouse_single: Cluster) -> None:
    c = clickhouse_single
    assert c.cluster_name == CLUSTER and len(c.hosts) == 1
    assert dict(c.execute(0, "SELECT * FROM system.macros")) == {
        "shard": "1",
        "replica": "clickhouse-0",
    }
    db = f"t_{uuid.uuid4().hex[:10]}"
    c.execute(0, f"CREATE DATABASE {db}")
    c.execute(
        0,
        f"CREATE TABLE {db}.points (tenant String, seq UInt64) "
        f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{db}/points', '{{replica}}') "
        "ORDER BY seq",
    )
    c.execute(0, f"INSERT INTO {db}.points VALUES", [("a", 1), ("b", 2)])
    assert c.execute(0, f"SELECT count() FROM {db}.points") == [(2,)]
