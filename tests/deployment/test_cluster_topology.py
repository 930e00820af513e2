"""The ClickHouse and ZooKeeper StatefulSets: the files of deployments/clickhouse/, ids derived
from ordinals by the real pod-env.sh, and Luminate pointed at exactly those servers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment import cluster_topology
from tests.deployment.app_contract import environment, luminate_containers
from tests.deployment.conftest import container, mutated
from tests.deployment.manifests import OVERLAYS, Manifest
from tests.deployment.problems import Problem, report

CHECKS = (
    cluster_topology.check_clickhouse_files,
    cluster_topology.check_clickhouse_mounts,
    cluster_topology.check_clickhouse_identity,
    cluster_topology.check_zookeeper_identity,
    cluster_topology.check_luminate_targets,
    cluster_topology.check_insert_quorum,
)
CLICKHOUSE = "deployments/kubernetes/production/clickhouse-statefulset.yaml"
ZOOKEEPER = "deployments/kubernetes/production/zookeeper-statefulset.yaml"
KUSTOMIZATION = "deployments/kubernetes/production/kustomization.yaml"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_cluster_is_consistent(builds: dict[str, list[Manifest]], overlay: str, check: Any) -> None:
    problems = check(builds[overlay])
    assert not problems, report(problems, f"{check.__name__} on {overlay}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ordinals_give_two_shards_of_two_and_zookeeper_ids_one_to_three(
    builds: dict[str, list[Manifest]], overlay: str
) -> None:
    clickhouse = cluster_topology.pod_ids(builds[overlay], "clickhouse")
    assert not isinstance(clickhouse, Problem), str(clickhouse)
    assert [int(i["SHARD_ID"]) for i in clickhouse] == [1, 1, 2, 2]
    for shard in ("1", "2"):
        replicas = [i["REPLICA_ID"] for i in clickhouse if i["SHARD_ID"] == shard]
        assert len(replicas) == len(set(replicas)) == 2
    zookeeper = cluster_topology.pod_ids(builds[overlay], "zookeeper")
    assert not isinstance(zookeeper, Problem), str(zookeeper)
    assert [i["ZOO_MY_ID"] for i in zookeeper] == ["1", "2", "3"]


# ---------------------------------------------------------------- bad input


def _env(doc: dict[str, Any], name: str, value: str) -> None:
    for entry in container(doc)["env"]:
        if entry["name"] == name:
            entry["value"] = value


def test_one_replica_per_shard_would_break_the_layout(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "StatefulSet",
        "clickhouse",
        lambda doc: _env(doc, "CLICKHOUSE_REPLICAS_PER_SHARD", "1"),
    )
    problems = cluster_topology.check_clickhouse_identity(bad)
    assert problems
    assert {(p.file, p.field) for p in problems} == {
        (CLICKHOUSE, "StatefulSet/clickhouse spec.template.spec.containers[0].env")
    }
    assert any("clickhouse-1 gets SHARD_ID=2" in p.message for p in problems)


def test_the_seeds_derivation_from_the_pod_name_is_caught(production: list[Manifest]) -> None:
    """The seed set SHARD_ID to the pod name: four one-replica shards."""

    def seed_script(doc: dict[str, Any]) -> None:
        script = doc["data"]["pod-env.sh"]
        assert "SHARD_ID=$((ordinal / per_shard + 1))" in script
        doc["data"]["pod-env.sh"] = script.replace(
            "SHARD_ID=$((ordinal / per_shard + 1))", "SHARD_ID=$name"
        )

    problems = cluster_topology.check_clickhouse_identity(
        mutated(production, "ConfigMap", "pod-env", seed_script)
    )
    assert len(problems) == 4, report(problems, "identity")
    assert all(p.file == CLICKHOUSE and "SHARD_ID=clickhouse-" in p.message for p in problems)
    files = cluster_topology.check_clickhouse_files(
        mutated(production, "ConfigMap", "pod-env", seed_script)
    )
    assert [(p.file, p.field) for p in files] == [
        (KUSTOMIZATION, "ConfigMap/pod-env data.pod-env.sh")
    ]


def test_a_two_pod_cluster_leaves_a_shard_empty(production: list[Manifest]) -> None:
    """The seed's staging overlay shrank ClickHouse to two pods."""
    bad = mutated(
        production, "StatefulSet", "clickhouse", lambda doc: doc["spec"].update(replicas=2)
    )
    problems = cluster_topology.check_clickhouse_identity(bad)
    fields = {p.field for p in problems}
    assert "StatefulSet/clickhouse spec.replicas" in fields
    assert any("clickhouse-2" in p.message for p in problems)


def test_a_server_started_without_pod_env_is_refused(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "StatefulSet",
        "zookeeper",
        lambda doc: container(doc).update(command=["/docker-entrypoint.sh", "zkServer.sh"]),
    )
    problem = cluster_topology.check_zookeeper_identity(bad)
    assert [(p.file, p.field) for p in problem] == [
        (ZOOKEEPER, "StatefulSet/zookeeper spec.template.spec.containers[0].command")
    ]


def test_a_zookeeper_id_that_does_not_match_zoo_cfg_is_caught(production: list[Manifest]) -> None:
    def shift(doc: dict[str, Any]) -> None:
        doc["data"]["zoo.cfg"] = doc["data"]["zoo.cfg"].replace("server.1=", "server.4=")

    problems = cluster_topology.check_zookeeper_identity(
        mutated(production, "ConfigMap", "zookeeper-config", shift)
    )
    assert [p.message for p in problems] == [
        "zookeeper-0 gets ZOO_MY_ID=1, but zoo.cfg's server.1 is absent"
    ]


def test_a_drifted_clickhouse_config_names_the_field(production: list[Manifest]) -> None:
    def drift(doc: dict[str, Any]) -> None:
        doc["data"]["config.xml"] = doc["data"]["config.xml"].replace(
            "<session_timeout_ms>30000<", "<session_timeout_ms>10000<"
        )

    problem, *rest = cluster_topology.check_clickhouse_files(
        mutated(production, "ConfigMap", "clickhouse-config", drift)
    )
    assert not rest
    assert (problem.file, problem.field) == (
        KUSTOMIZATION,
        "ConfigMap/clickhouse-config data.config.xml",
    )
    assert "zookeeper/session_timeout_ms" in problem.message


def test_mounting_over_config_d_is_refused(production: list[Manifest]) -> None:
    def whole_directory(doc: dict[str, Any]) -> None:
        mounts = container(doc)["volumeMounts"]
        mounts[:] = [m for m in mounts if m["name"] != "config"]
        mounts.append({"name": "config", "mountPath": "/etc/clickhouse-server/config.d/"})

    problems = cluster_topology.check_clickhouse_mounts(
        mutated(production, "StatefulSet", "clickhouse", whole_directory)
    )
    assert any(
        p.field.endswith("volumeMounts[4].mountPath") and "whole-directory" in p.message
        for p in problems
    ), report(problems, "mounts")


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (
            "clickhouse-0.clickhouse-headless:9000,clickhouse-1.clickhouse-headless:9000",
            "not every pod",
        ),
        (
            "clickhouse-0.clickhouse-headless:8123,clickhouse-1.clickhouse-headless:9000,"
            "clickhouse-2.clickhouse-headless:9000,clickhouse-3.clickhouse-headless:9000",
            "clickhouse-0.clickhouse-headless:8123 is not",
        ),
        (
            "clickhouse-0.clickhouse:9000,clickhouse-1.clickhouse-headless:9000,"
            "clickhouse-2.clickhouse-headless:9000,clickhouse-3.clickhouse-headless:9000",
            "clickhouse-0.clickhouse:9000 is not",
        ),
    ],
)
def test_luminate_must_name_every_server(
    production: list[Manifest], hosts: str, expected: str
) -> None:
    bad = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(LUMINATE_CLICKHOUSE_HOSTS=hosts),
    )
    problems = cluster_topology.check_luminate_targets(bad)
    assert problems and all(p.field.endswith("LUMINATE_CLICKHOUSE_HOSTS") for p in problems), (
        report(problems, "targets")
    )
    assert any(expected in p.message for p in problems)
    # The FQDN form is as good as the short one.
    fqdn = ",".join(
        f"clickhouse-{i}.clickhouse-headless.luminate-prod.svc.cluster.local:9000" for i in range(4)
    )
    fine = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(LUMINATE_CLICKHOUSE_HOSTS=fqdn),
    )
    assert not cluster_topology.check_luminate_targets(fine)


def test_luminate_must_name_the_configured_cluster_and_user(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(
            LUMINATE_CLICKHOUSE_CLUSTER="luminate", LUMINATE_CLICKHOUSE_USERNAME="default"
        ),
    )
    fields = sorted(p.field.rsplit(" ", 1)[1] for p in cluster_topology.check_luminate_targets(bad))
    # The API, the migration, the backup job and the backup agent all read luminate-config.
    assert fields == ["LUMINATE_CLICKHOUSE_CLUSTER"] * 4 + ["LUMINATE_CLICKHOUSE_USERNAME"] * 4


def test_production_acknowledges_a_write_once_both_replicas_hold_it(
    production: list[Manifest],
) -> None:
    """2 of 2: a write survives the loss of either replica of its shard, disk included."""
    _, shards, _ = cluster_topology._remote_servers(production)
    assert {len(shard) for shard in shards} == {2}
    for _, _, c in luminate_containers(production):
        assert environment(production, c)["LUMINATE_CLICKHOUSE_INSERT_QUORUM"] == "2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", "LUMINATE_CLICKHOUSE_INSERT_QUORUM=3 can never be met: shard 1 of cluster "),
        ("all", "LUMINATE_CLICKHOUSE_INSERT_QUORUM='all': expected `majority` or a whole"),
    ],
)
def test_a_quorum_the_cluster_cannot_meet_is_caught(
    production: list[Manifest], value: str, message: str
) -> None:
    bad = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(LUMINATE_CLICKHOUSE_INSERT_QUORUM=value),
    )
    problems = cluster_topology.check_insert_quorum(bad)
    # Every process that opens the cluster reads luminate-config: each would refuse to start.
    assert {p.file for p in problems} == {
        "deployments/kubernetes/production/luminate-deployment.yaml",
        "deployments/kubernetes/production/migration-job.yaml",
        "deployments/kubernetes/production/backup-cronjob.yaml",
        "deployments/kubernetes/production/clickhouse-statefulset.yaml",
    }
    assert all(message in p.message for p in problems), report(problems, "quorum")
