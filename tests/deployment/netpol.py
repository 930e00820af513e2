"""A small evaluator of Kubernetes NetworkPolicies, and the connection matrix Luminate needs.

It implements the parts of the NetworkPolicy semantics the manifests use: policies select pods
of their own namespace; a pod selected by no policy of a direction is open in that direction;
otherwise a connection needs a rule of some selecting policy whose peers and ports match; a
connection is possible only when the source's egress and the destination's ingress both allow
it. Peers are podSelector (same namespace), namespaceSelector, or both; ports are numbers or
names of the destination's container ports. Clients outside the cluster match only rules
without peers. ipBlock peers match only addresses outside the cluster (the pods' own
addresses are not stable, and the manifests use ipBlock for S3 alone); each outside peer has a
representative address: S3's public one, the cloud metadata service, a private network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from tests.deployment.manifests import Manifest, containers, pod_template
from tests.deployment.problems import Problem
from tests.deployment.wiring import matches


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # named container ports
    outside: bool = False  # a client outside the cluster, behind the load balancer
    address: str = ""  # an outside destination's address (ipBlock rules match it)


def pods(manifests: list[Manifest]) -> list[Pod]:
    """One representative pod of every workload in the build, plus the peers around it."""
    out = []
    namespaces = {
        m.name: m.doc["metadata"].get("labels", {}) for m in manifests if m.kind == "Namespace"
    }
    for m in manifests:
        found = pod_template(m)
        if found is None:
            continue
        ns = m.doc["metadata"].get("namespace", "default")
        named = {
            p["name"]: p["containerPort"]
            for _, c in containers(m)
            for p in c.get("ports", [])
            if "name" in p
        }
        out.append(
            Pod(
                m.name,
                ns,
                dict(found[1]["metadata"].get("labels", {})),
                {"kubernetes.io/metadata.name": ns, **namespaces.get(ns, {})},
                named,
            )
        )
    out += [
        Pod(
            "prometheus",
            "monitoring",
            {"app.kubernetes.io/name": "prometheus"},
            {"kubernetes.io/metadata.name": "monitoring"},
        ),
        Pod(
            "kube-dns",
            "kube-system",
            {"k8s-app": "kube-dns"},
            {"kubernetes.io/metadata.name": "kube-system"},
            {"dns": 53},
        ),
        # Same labels as Luminate, another namespace: must not pass for Luminate.
        Pod(
            "impostor",
            "elsewhere",
            {"app": "luminate"},
            {"kubernetes.io/metadata.name": "elsewhere"},
        ),
        Pod(
            "pushgateway",
            "monitoring",
            {"app.kubernetes.io/name": "prometheus-pushgateway"},
            {"kubernetes.io/metadata.name": "monitoring"},
        ),
        Pod("client", "", outside=True),
        # Destinations outside the cluster: S3 (public), and two that no backup may reach.
        Pod("s3", "", outside=True, address="52.216.8.1"),
        Pod("cloud-metadata", "", outside=True, address="169.254.169.254"),
        Pod("private-network", "", outside=True, address="10.20.30.40"),
    ]
    return out


def allowed(policies: list[Manifest], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    return _open(policies, src, "Egress", dst, dst, port, protocol) and _open(
        policies, dst, "Ingress", src, dst, port, protocol
    )


def _types(spec: dict[str, Any]) -> list[str]:
    return spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]


def _open(
    policies: list[Manifest],
    pod: Pod,
    direction: str,
    peer: Pod,
    dst: Pod,
    port: int,
    protocol: str,
) -> bool:
    if pod.outside:
        return True
    selecting = [
        p
        for p in policies
        if p.doc["metadata"].get("namespace", "default") == pod.namespace
        and matches(p.doc["spec"]["podSelector"], pod.labels)
        and direction in _types(p.doc["spec"])
    ]
    if not selecting:
        return True
    key, peers_key = direction.lower(), "from" if direction == "Ingress" else "to"
    for p in selecting:
        for rule in p.doc["spec"].get(key, []):
            namespace = p.doc["metadata"].get("namespace", "default")
            if _ports_match(rule.get("ports"), port, protocol, dst) and _peers_match(
                rule.get(peers_key), peer, namespace
            ):
                return True
    return False


def _ports_match(ports: list[dict[str, Any]] | None, port: int, protocol: str, dst: Pod) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        number = dst.ports.get(wanted, -1) if isinstance(wanted, str) else wanted
        if number <= port <= entry.get("endPort", number):
            return True
    return False


def _peers_match(peers: list[dict[str, Any]] | None, peer: Pod, namespace: str) -> bool:
    if not peers:
        return True
    if peer.outside and not peer.address:
        return False
    for entry in peers:
        if "ipBlock" in entry:
            if _in_block(entry["ipBlock"], peer):
                return True
            continue
        ns_selector, pod_selector = entry.get("namespaceSelector"), entry.get("podSelector")
        in_ns = (
            matches(ns_selector, peer.namespace_labels)
            if ns_selector is not None
            else peer.namespace == namespace
        )
        if peer.outside:
            continue
        if in_ns and (pod_selector is None or matches(pod_selector, peer.labels)):
            return True
    return False


def _in_block(block: dict[str, Any], peer: Pod) -> bool:
    if not peer.address:
        return False
    address = ipaddress.ip_address(peer.address)
    return address in ipaddress.ip_network(block["cidr"]) and not any(
        address in ipaddress.ip_network(e) for e in block.get("except", [])
    )


# What must be possible; every other (source, destination, port) among PORTS must be refused.
EXPECTED = {
    ("client", "luminate", 8080),
    ("prometheus", "luminate", 8081),
    ("prometheus", "clickhouse", 9363),
    ("prometheus", "zookeeper", 7000),
    ("prometheus", "alertmanager", 9093),
    ("alertmanager", "alertmanager", 9094),
    ("luminate", "clickhouse", 9000),
    ("luminate-migrate", "clickhouse", 9000),
    ("clickhouse", "clickhouse", 9000),
    ("clickhouse", "clickhouse", 9009),
    ("clickhouse", "zookeeper", 2181),
    ("zookeeper", "zookeeper", 2888),
    ("zookeeper", "zookeeper", 3888),
    ("clickhouse-backup", "clickhouse", 9000),
    ("clickhouse-backup", "clickhouse", 9465),
    ("clickhouse-backup", "pushgateway", 9091),
    ("clickhouse-backup", "s3", 443),
    ("clickhouse", "s3", 443),
}
# The API is public (the load balancer forwards from anywhere): any pod that is not one of ours
# may reach it; ours reach only what EXPECTED lists.
PUBLIC = {("luminate", 8080)}
# Alertmanager's receivers are outside the cluster: it may open HTTPS to anything not ours.
OUTBOUND = {("alertmanager", 443)}
PORTS = (443, 2181, 2888, 3888, 7000, 8080, 8081, 8123, 9000, 9009, 9091, 9093, 9094, 9363, 9465)
OURS = (
    "luminate",
    "luminate-migrate",
    "clickhouse",
    "zookeeper",
    "alertmanager",
    "clickhouse-backup",
)


def check_matrix(manifests: list[Manifest]) -> list[Problem]:
    """Every connection among the workloads and their peers is allowed exactly when EXPECTED
    says so, and every workload resolves names through cluster DNS."""
    policies = [m for m in manifests if m.kind == "NetworkPolicy"]
    source = policies[0].source if policies else "deployments/kubernetes/production"
    everyone = pods(manifests)
    by_name = {p.name: p for p in everyone}
    problems = []
    for src, dst, port in product(everyone, everyone, PORTS):
        if (dst.outside and not dst.address) or (src.name not in OURS and dst.name not in OURS):
            continue
        want = (
            (src.name, dst.name, port) in EXPECTED
            or (src.name not in OURS and (dst.name, port) in PUBLIC)
            or (dst.name not in OURS and (src.name, port) in OUTBOUND)
        )
        got = allowed(policies, src, dst, port)
        if got != want:
            verdict = {True: "allowed", False: "refused"}
            problems.append(
                Problem(
                    source,
                    f"NetworkPolicy {src.name} -> {dst.name}:{port}",
                    f"{verdict[got]}, expected {verdict[want]}",
                )
            )
    for name in OURS:
        for protocol in ("UDP", "TCP"):
            if name in by_name and not allowed(
                policies, by_name[name], by_name["kube-dns"], 53, protocol
            ):
                problems.append(
                    Problem(
                        source,
                        f"NetworkPolicy {name} -> kube-dns:53/{protocol}",
                        "refused, expected allowed",
                    )
                )
    return problems
