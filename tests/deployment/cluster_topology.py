"""The ClickHouse and ZooKeeper StatefulSets agree with deployments/clickhouse/ and with Luminate.

The ConfigMaps carry exactly the files of deployments/clickhouse/; running the real pod-env.sh
the StatefulSets start with, for every ordinal, gives the shards and replicas remote_servers lists
and the ZooKeeper ids zoo.cfg lists; and Luminate's LUMINATE_CLICKHOUSE_* settings name those pods,
that cluster and that user, with an insert quorum every shard can meet.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from deployments.clickhouse import render
from luminate.settings import ConfigError, load_settings
from luminate.storage import quorum
from tests.deployment.app_contract import command, environment, luminate_containers
from tests.deployment.manifests import (
    REPO,
    Manifest,
    configmap,
    configmap_data,
    containers,
    find,
    runs_luminate,
)
from tests.deployment.problems import Problem, path

CLICKHOUSE_DIR = REPO / "deployments" / "clickhouse"
CONFIG_FILES = ("config.xml", "macros.xml", "users.xml")
POD_ENV = "pod-env.sh"
CONFIG_D = PurePosixPath("/etc/clickhouse-server/config.d")
USERS_D = PurePosixPath("/etc/clickhouse-server/users.d")
NATIVE_PORT = 9000


def check_clickhouse_files(manifests: list[Manifest]) -> list[Problem]:
    """The ConfigMaps hold deployments/clickhouse/ byte for byte (and the rendered config)."""
    problems = []
    rendered = render.render_production()
    wanted = {("clickhouse-config", f): f for f in CONFIG_FILES} | {("pod-env", POD_ENV): POD_ENV}
    for (cm_name, key), file in wanted.items():
        cm = configmap(manifests, cm_name)
        data = cm.doc.get("data", {})
        field = f"ConfigMap/{cm_name} data.{key}"
        shipped = (CLICKHOUSE_DIR / file).read_text()
        if key not in data:
            problems.append(Problem(cm.source, field, f"missing (deployments/clickhouse/{file})"))
            continue
        if data[key] != shipped:
            detail = ""
            if file.endswith(".xml"):
                differences = render.diff_xml(file, shipped, data[key])
                detail = f" ({differences[0].field})" if differences else " (comments or layout)"
            problems.append(
                Problem(
                    cm.source,
                    field,
                    f"differs from deployments/clickhouse/{file}{detail}; run "
                    "scripts/sync-clickhouse-configmap.sh",
                )
            )
        if file in rendered and rendered[file] != shipped:
            problems.append(
                Problem(
                    f"deployments/clickhouse/{file}",
                    file,
                    "is not what render.py renders for production (render.py production)",
                )
            )
    return problems


def check_clickhouse_mounts(manifests: list[Manifest]) -> list[Problem]:
    """Each file is mounted on its own (subPath): a mount over config.d/ or users.d/ would hide
    the image's docker_related_config.xml, and the server would listen on localhost only."""
    sts = find(manifests, "StatefulSet", "clickhouse")
    problems = []
    expected = {
        "config.xml": CONFIG_D / "config.xml",
        "macros.xml": CONFIG_D / "macros.xml",
        "users.xml": USERS_D / "users.xml",
    }
    for where, container in containers(sts):
        if runs_luminate(container):
            continue  # the backup agent beside the server reads no server configuration
        mounts = container.get("volumeMounts", [])
        found = {
            m.get("subPath"): PurePosixPath(m["mountPath"]) for m in mounts if m.get("subPath")
        }
        for i, mount in enumerate(mounts):
            if PurePosixPath(mount["mountPath"]) in {CONFIG_D, USERS_D}:
                problems.append(
                    Problem(
                        sts.source,
                        f"{sts.ref} {path(*where, 'volumeMounts', i, 'mountPath')}",
                        "a whole-directory mount hides the image's own files; mount each file "
                        "with subPath",
                    )
                )
        for file, target in expected.items():
            if found.get(file) != target:
                problems.append(
                    Problem(
                        sts.source,
                        f"{sts.ref} {path(*where, 'volumeMounts')}",
                        f"{file} must be mounted at {target} (subPath {file})",
                    )
                )
    return problems


def pod_ids(manifests: list[Manifest], statefulset: str) -> list[dict[str, str]] | Problem:
    """The ids pod-env.sh derives in each pod of the StatefulSet, run for real.

    The container's command must start with the pod-env.sh of the `pod-env` ConfigMap and a
    role; the script runs with the pod's environment as Kubernetes would give it (HOSTNAME and
    every fieldRef to metadata.name set to the pod name, literal values as written)."""
    sts = find(manifests, "StatefulSet", statefulset)
    (where, container), *_ = containers(sts)
    argv = container.get("command", [])
    data = configmap_data(manifests, "pod-env")
    field = f"{sts.ref} {path(*where, 'command')}"
    if len(argv) < 2 or PurePosixPath(argv[0]).name != POD_ENV:
        return Problem(sts.source, field, f"the server must be started through {POD_ENV}")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / POD_ENV
        script.write_text(data[POD_ENV])
        ids = []
        for ordinal in range(sts.doc["spec"]["replicas"]):
            pod = f"{sts.name}-{ordinal}"
            result = subprocess.run(
                ["sh", str(script), argv[1]],
                env=_pod_environment(container, pod),
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if result.returncode != 0:
                return Problem(
                    sts.source, field, f"{POD_ENV} fails in {pod}: {result.stderr.strip()}"
                )
            ids.append(dict(line.split("=", 1) for line in result.stdout.splitlines()))
    return ids


def _pod_environment(container: dict[str, Any], pod: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOSTNAME": pod}
    for entry in container.get("env", []):
        field_ref = entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if field_ref == "metadata.name":
            env[entry["name"]] = pod
        elif "value" in entry:
            env[entry["name"]] = str(entry["value"])
    return env


def _remote_servers(manifests: list[Manifest]) -> tuple[str, list[list[tuple[str, str]]], Any]:
    config = render.parse_xml(configmap_data(manifests, "clickhouse-config")["config.xml"])
    clusters = config.find("remote_servers")
    assert clusters is not None and len(clusters) == 1, "one cluster in remote_servers"
    cluster = clusters[0]
    shards = [
        [(r.findtext("host") or "", r.findtext("port") or "") for r in shard.findall("replica")]
        for shard in cluster.findall("shard")
    ]
    return cluster.tag, shards, config


def check_clickhouse_identity(manifests: list[Manifest]) -> list[Problem]:
    """Shard and replica of every ordinal match the shard remote_servers lists the pod in."""
    sts = find(manifests, "StatefulSet", "clickhouse")
    _, shards, _ = _remote_servers(manifests)
    hosts = [host for shard in shards for host, _ in shard]
    problems = []
    if sts.doc["spec"]["replicas"] != len(hosts):
        problems.append(
            Problem(
                sts.source,
                f"{sts.ref} spec.replicas",
                f"{sts.doc['spec']['replicas']} pods, but remote_servers lists "
                f"{len(hosts)} servers",
            )
        )
    ids = pod_ids(manifests, "clickhouse")
    if isinstance(ids, Problem):
        return [*problems, ids]
    service = sts.doc["spec"]["serviceName"]
    field = f"{sts.ref} {path('spec', 'template', 'spec', 'containers', 0, 'env')}"
    for number, shard in enumerate(shards, start=1):
        replicas = []
        for host, _ in shard:
            pod, _, domain = host.partition(".")
            ordinal = int(pod.rsplit("-", 1)[1]) if pod.startswith(f"{sts.name}-") else -1
            if not 0 <= ordinal < len(ids) or domain.split(".")[0] != service:
                problems.append(
                    Problem(
                        sts.source, f"{sts.ref} spec", f"{host} (shard {number}) is no pod of it"
                    )
                )
                continue
            got = ids[ordinal]
            if got.get("SHARD_ID") != str(number):
                problems.append(
                    Problem(
                        sts.source,
                        field,
                        f"{pod} gets SHARD_ID={got.get('SHARD_ID')}, but remote_servers lists it "
                        f"in shard {number}",
                    )
                )
            replicas.append(got.get("REPLICA_ID"))
        if len(set(replicas)) != len(replicas) or not all(replicas):
            problems.append(
                Problem(
                    sts.source, field, f"replica ids of shard {number} are not distinct: {replicas}"
                )
            )
    return problems


def check_zookeeper_identity(manifests: list[Manifest]) -> list[Problem]:
    """ZOO_MY_ID of every ordinal is the server.N zoo.cfg gives that pod, and the ensemble is
    the one ClickHouse's config.xml names."""
    sts = find(manifests, "StatefulSet", "zookeeper")
    cfg_map = configmap(manifests, "zookeeper-config")
    zoo = dict(
        line.split("=", 1)
        for line in cfg_map.doc["data"]["zoo.cfg"].splitlines()
        if "=" in line and not line.startswith("#")
    )
    servers = {int(k.split(".")[1]): v for k, v in zoo.items() if k.startswith("server.")}
    service = sts.doc["spec"]["serviceName"]
    problems = []
    ids = pod_ids(manifests, "zookeeper")
    if isinstance(ids, Problem):
        return [ids]
    for ordinal, got in enumerate(ids):
        pod = f"{sts.name}-{ordinal}"
        my_id = int(got.get("ZOO_MY_ID", "0"))
        host = servers.get(my_id, "").split(":", 1)[0]
        if not 1 <= my_id <= 255 or host != f"{pod}.{service}":
            problems.append(
                Problem(
                    sts.source,
                    f"{sts.ref} {path('spec', 'template', 'spec', 'containers', 0, 'env')}",
                    f"{pod} gets ZOO_MY_ID={my_id}, but zoo.cfg's server.{my_id} is "
                    f"{host or 'absent'}",
                )
            )
    if len(servers) != sts.doc["spec"]["replicas"]:
        problems.append(
            Problem(
                cfg_map.source, "ConfigMap/zookeeper-config data.zoo.cfg", "server.N lines != pods"
            )
        )
    _, _, config = _remote_servers(manifests)
    listed = [(n.findtext("host"), n.findtext("port")) for n in config.findall("zookeeper/node")]
    expected = [(f"{sts.name}-{i}.{service}", zoo.get("clientPort")) for i in range(len(ids))]
    if listed != expected:
        problems.append(
            Problem(
                "deployments/clickhouse/config.xml",
                "zookeeper/node",
                f"{listed} is not the ensemble of {sts.ref}: {expected}",
            )
        )
    return problems


def check_luminate_targets(manifests: list[Manifest]) -> list[Problem]:
    """LUMINATE_CLICKHOUSE_HOSTS are the StatefulSet's pods behind its headless Service on the
    native port; the cluster and the user are the ones the servers are configured with."""
    sts = find(manifests, "StatefulSet", "clickhouse")
    service = sts.doc["spec"]["serviceName"]
    namespace = sts.doc["metadata"].get("namespace", "")
    svc = find(manifests, "Service", service)
    cluster_name, _, config = _remote_servers(manifests)
    users = render.parse_xml(configmap_data(manifests, "clickhouse-config")["users.xml"])
    server_users = {r.findtext("user") for r in config.iter("replica")}
    problems = []
    if svc.doc["spec"].get("clusterIP") != "None" or NATIVE_PORT not in {
        p["port"] for p in svc.doc["spec"].get("ports", [])
    }:
        problems.append(
            Problem(svc.source, f"{svc.ref} spec", f"must be headless and expose {NATIVE_PORT}")
        )
    pods = [f"{sts.name}-{i}" for i in range(sts.doc["spec"]["replicas"])]
    for m, where, container in luminate_containers(manifests):
        env = environment(manifests, container)
        at = f"{m.ref} {path(*where)}"
        hosts = [
            h.strip() for h in env.get("LUMINATE_CLICKHOUSE_HOSTS", "").split(",") if h.strip()
        ]
        if command(container)[1:3] == ("backup", "agent"):
            # FREEZE snapshots only the server it runs on: the agent talks to its own server.
            if hosts != [f"localhost:{NATIVE_PORT}"]:
                problems.append(
                    Problem(
                        m.source,
                        f"{at} LUMINATE_CLICKHOUSE_HOSTS",
                        f"{hosts} is not its own server, localhost:{NATIVE_PORT}",
                    )
                )
            hosts = []
        names = []
        for host in hosts:
            name, _, port = host.rpartition(":")
            pod, _, domain = name.partition(".")
            allowed = {service, f"{service}.{namespace}.svc.cluster.local"}
            if port != str(NATIVE_PORT) or domain not in allowed or pod not in pods:
                problems.append(
                    Problem(
                        m.source,
                        f"{at} LUMINATE_CLICKHOUSE_HOSTS",
                        f"{host} is not <pod>.{service}[.{namespace}.svc.cluster.local]:"
                        f"{NATIVE_PORT} of {sts.ref}",
                    )
                )
            names.append(pod)
        if sorted(names) != sorted(pods) and command(container)[1:3] != ("backup", "agent"):
            problems.append(
                Problem(
                    m.source,
                    f"{at} LUMINATE_CLICKHOUSE_HOSTS",
                    f"names {sorted(names)}, not every pod of {sts.ref} {pods}",
                )
            )
        if env.get("LUMINATE_CLICKHOUSE_CLUSTER") != cluster_name:
            problems.append(
                Problem(
                    m.source,
                    f"{at} LUMINATE_CLICKHOUSE_CLUSTER",
                    f"{env.get('LUMINATE_CLICKHOUSE_CLUSTER')!r} is not remote_servers' "
                    f"{cluster_name!r}",
                )
            )
        user = env.get("LUMINATE_CLICKHOUSE_USERNAME", "default")
        if users.find(f"users/{user}") is None or server_users != {user}:
            problems.append(
                Problem(
                    m.source,
                    f"{at} LUMINATE_CLICKHOUSE_USERNAME",
                    f"{user!r} is not the user of users.xml and remote_servers",
                )
            )
    return problems


def check_insert_quorum(manifests: list[Manifest]) -> list[Problem]:
    """LUMINATE_CLICKHOUSE_INSERT_QUORUM is a value Luminate accepts and every shard of
    remote_servers can meet (Luminate refuses to start otherwise); unset means a majority."""
    cluster_name, shards, _ = _remote_servers(manifests)
    replicas = [len(shard) for shard in shards]
    problems = []
    for m, where, container in luminate_containers(manifests):
        env = environment(manifests, container)
        name = "LUMINATE_CLICKHOUSE_INSERT_QUORUM"
        try:
            spec = load_settings({name: env[name]} if name in env else {}).clickhouse_insert_quorum
            quorum.resolve(spec, replicas, cluster_name)
        except (ConfigError, quorum.ImpossibleQuorum) as exc:
            problems.append(Problem(m.source, f"{m.ref} {path(*where)} {name}", str(exc)))
    return problems
