"""The NetworkPolicies, evaluated: exactly the connections Luminate needs, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment import netpol
from tests.deployment.conftest import mutated
from tests.deployment.manifests import OVERLAYS, Manifest
from tests.deployment.problems import report

POLICIES = "deployments/kubernetes/production/network-policies.yaml"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_needed_connections_are_open(
    builds: dict[str, list[Manifest]], overlay: str
) -> None:
    problems = netpol.check_matrix(builds[overlay])
    assert not problems, report(problems, f"network policies of {overlay}")


def test_the_matrix_is_not_vacuous(production: list[Manifest]) -> None:
    pods = {p.name: p for p in netpol.pods(production)}
    policies = [m for m in production if m.kind == "NetworkPolicy"]
    assert netpol.allowed(policies, pods["luminate"], pods["clickhouse"], 9000)
    assert not netpol.allowed(policies, pods["zookeeper"], pods["clickhouse"], 9000)
    assert not netpol.allowed(policies, pods["impostor"], pods["clickhouse"], 9000)
    assert not netpol.allowed(policies, pods["client"], pods["zookeeper"], 2181)
    assert netpol.allowed(policies, pods["prometheus"], pods["clickhouse"], 9363)
    assert not netpol.allowed(policies, pods["prometheus"], pods["zookeeper"], 2181)


# ---------------------------------------------------------------- bad input


def _without(manifests: list[Manifest], *names: str) -> list[Manifest]:
    return [m for m in manifests if not (m.kind == "NetworkPolicy" and m.name in names)]


def test_without_default_deny_other_pods_get_through(production: list[Manifest]) -> None:
    problems = netpol.check_matrix(_without(production, "default-deny-all", "zookeeper"))
    fields = {p.field for p in problems}
    # Our own pods keep their egress rules; everyone else walks in.
    assert "NetworkPolicy impostor -> zookeeper:2181" in fields
    assert "NetworkPolicy client -> zookeeper:2181" in fields
    assert "NetworkPolicy luminate -> zookeeper:2181" not in fields
    assert {p.file for p in problems} == {POLICIES}


def test_an_open_native_port_is_caught(production: list[Manifest]) -> None:
    def open_native(doc: dict[str, Any]) -> None:
        del doc["spec"]["ingress"][0]["from"]

    problems = netpol.check_matrix(mutated(production, "NetworkPolicy", "clickhouse", open_native))
    assert {p.field for p in problems} >= {
        "NetworkPolicy impostor -> clickhouse:9000",
        "NetworkPolicy prometheus -> clickhouse:9000",
        "NetworkPolicy kube-dns -> clickhouse:9000",
    }, report(problems, "open native port")


def test_a_policy_for_any_namespace_is_caught(production: list[Manifest]) -> None:
    """A namespaceSelector of {} would let a pod labelled app=luminate anywhere in."""

    def any_namespace(doc: dict[str, Any]) -> None:
        doc["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}

    problems = netpol.check_matrix(
        mutated(production, "NetworkPolicy", "clickhouse", any_namespace)
    )
    assert [p.field for p in problems] == ["NetworkPolicy impostor -> clickhouse:9000"]


def test_without_dns_nothing_resolves(production: list[Manifest]) -> None:
    problems = netpol.check_matrix(_without(production, "allow-dns-egress"))
    assert {p.field for p in problems} == {
        f"NetworkPolicy {name} -> kube-dns:53/{protocol}"
        for name in netpol.OURS
        for protocol in ("UDP", "TCP")
    }
