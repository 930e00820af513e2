"""Selectors find their pods, every Secret key read is provided, phases are in order, no RBAC."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deployment import wiring
from tests.deployment.conftest import mutated
from tests.deployment.manifests import KUBERNETES, OVERLAYS, REPO, Manifest, load_file
from tests.deployment.problems import report

EXTERNAL_SECRETS = KUBERNETES / "production" / "external-secrets.yaml"
DEPLOYMENT = "deployments/kubernetes/production/luminate-deployment.yaml"
DOCS = REPO / "docs" / "deployment.md"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    "check",
    [wiring.check_selectors, wiring.check_phases, wiring.check_rbac],
    ids=lambda c: c.__name__,
)
def test_objects_refer_to_each_other(
    builds: dict[str, list[Manifest]], overlay: str, check: Any
) -> None:
    problems = check(builds[overlay])
    assert not problems, report(problems, f"{check.__name__} on {overlay}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sealed_secrets_provide_every_key_pods_read(
    builds: dict[str, list[Manifest]], overlay: str
) -> None:
    built = builds[overlay]
    problems = wiring.check_secret_references(built, built)
    assert not problems, report(problems, f"Secret keys on {overlay}")
    read = {(name, key) for _, _, name, key in wiring.secret_references(built)}
    assert read == {
        ("luminate-secrets", "jwt-secret"),
        ("luminate-secrets", "backup-token"),
        ("clickhouse-credentials", "password"),
        ("alertmanager-secrets", "pagerduty-oncall-routing-key"),
        ("alertmanager-secrets", "pagerduty-database-routing-key"),
        ("alertmanager-secrets", "slack-webhook-url"),
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_external_secrets_provide_the_same_keys(
    builds: dict[str, list[Manifest]], overlay: str
) -> None:
    external = load_file(EXTERNAL_SECRETS)
    problems = wiring.check_secret_references(builds[overlay], external)
    assert not problems, report(problems, "Secret keys from external-secrets.yaml")
    sealed = wiring.provided_secrets(builds[overlay])
    assert wiring.provided_secrets(external) == sealed
    problems = wiring.check_rbac(external)
    assert not problems, report(problems, "external-secrets.yaml")


def test_staging_seals_every_key_production_seals() -> None:
    def keys(folder: str) -> dict[str, set[str]]:
        out = {}
        for file in sorted((KUBERNETES / folder / "secrets").glob("*.yaml")):
            doc = yaml.safe_load(file.read_text())
            out[doc["metadata"]["name"]] = set(doc["spec"]["encryptedData"])
        return out

    # A key staging left out would keep production's ciphertext, which staging cannot decrypt.
    assert keys("staging") == keys("production")


def test_the_docs_apply_every_phase_in_order() -> None:
    text = DOCS.read_text()
    applied = re.findall(r"-l\s+luminate/deploy-phase=([a-z]+)", text)
    first = list(dict.fromkeys(applied))
    assert first == list(wiring.PHASES), first


# ---------------------------------------------------------------- bad input


def test_a_selector_that_finds_nothing_names_file_and_field(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "PodDisruptionBudget",
        "luminate",
        lambda doc: doc["spec"]["selector"]["matchLabels"].update(app="luminate-api"),
    )
    problems = wiring.check_selectors(bad)
    assert [(p.file, p.field, p.message) for p in problems] == [
        (
            "deployments/kubernetes/production/pod-disruption-budgets.yaml",
            "PodDisruptionBudget/luminate spec.selector",
            "selects no pods",
        ),
        (DEPLOYMENT, "Deployment/luminate metadata", "0 PodDisruptionBudgets (want 1)"),
    ]


def test_an_hpa_that_would_resize_the_deployment_is_refused(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "HorizontalPodAutoscaler",
        "luminate-hpa",
        lambda doc: doc["spec"].update(minReplicas=3),
    )
    assert [p.field for p in wiring.check_selectors(bad)] == [
        "HorizontalPodAutoscaler/luminate-hpa spec.minReplicas"
    ]


def test_the_seeds_external_secret_misses_the_clickhouse_password(
    production: list[Manifest],
) -> None:
    """The seed wrote clickhouse-password into luminate-secrets; pods read
    clickhouse-credentials."""
    seed = yaml.safe_load(
        """
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata: {name: luminate-secrets}
        spec:
          target: {name: luminate-secrets}
          data:
            - {secretKey: jwt-secret, remoteRef: {key: luminate/jwt-secret}}
            - {secretKey: clickhouse-password, remoteRef: {key: luminate/clickhouse-password}}
        """
    )
    # Alertmanager's receiver keys are not the seed's concern.
    luminate = [m for m in production if m.name != "alertmanager"]
    problems = wiring.check_secret_references(luminate, [Manifest("seed.yaml", seed)])
    # The seed has no backup token either (read by the backup job and the agents).
    backup = [p for p in problems if "clickhouse-credentials" not in p.message]
    assert len(backup) == 2 and all("backup-token" in p.message for p in backup)
    problems = [p for p in problems if p not in backup]
    assert {(p.file, p.field) for p in problems} == {
        (DEPLOYMENT, "Deployment/luminate spec.template.spec.volumes[1].secret"),
        (
            "deployments/kubernetes/production/migration-job.yaml",
            "Job/luminate-migrate spec.template.spec.volumes[0].secret",
        ),
        (
            "deployments/kubernetes/production/clickhouse-statefulset.yaml",
            "StatefulSet/clickhouse spec.template.spec.containers[0].env[2]",
        ),
        (
            "deployments/kubernetes/production/clickhouse-statefulset.yaml",
            "StatefulSet/clickhouse spec.template.spec.volumes[0].secret",
        ),
        (
            "deployments/kubernetes/production/backup-cronjob.yaml",
            "CronJob/clickhouse-backup spec.jobTemplate.spec.template.spec.volumes[0].secret",
        ),
    }
    assert all("clickhouse-credentials" in p.message for p in problems)


def test_a_role_that_grants_anything_is_refused(production: list[Manifest]) -> None:
    role = Manifest(
        "role.yaml",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "luminate"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        },
    )
    problems = wiring.check_rbac([*production, role])
    assert [(p.file, p.field) for p in problems] == [("role.yaml", "Role/luminate rules[0]")]


def test_an_object_without_a_phase_or_out_of_order_is_refused(production: list[Manifest]) -> None:
    def unlabel(doc: dict[str, Any]) -> None:
        del doc["metadata"]["labels"][wiring.PHASE_LABEL]

    problems = wiring.check_phases(mutated(production, "Service", "luminate-svc", unlabel))
    assert [p.field for p in problems] == [
        f"Service/luminate-svc metadata.labels.{wiring.PHASE_LABEL}"
    ]
    late = mutated(
        production,
        "ServiceAccount",
        "clickhouse",
        lambda doc: doc["metadata"]["labels"].update({wiring.PHASE_LABEL: "app"}),
    )
    problems = wiring.check_phases(late)
    assert [p.message for p in problems] == [
        "needs ServiceAccount/clickhouse, which is applied in a later phase"
    ]


def test_a_token_mounted_anywhere_is_refused(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "StatefulSet",
        "zookeeper",
        lambda doc: doc["spec"]["template"]["spec"].update(automountServiceAccountToken=True),
    )
    assert [p.field for p in wiring.check_rbac(bad)] == [
        "StatefulSet/zookeeper spec.template.spec.automountServiceAccountToken"
    ]
