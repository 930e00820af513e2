"""Both overlays build with kustomize, and every object validates against its schema, strictly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.deployment import schemas
from tests.deployment.conftest import container, mutated
from tests.deployment.manifests import (
    KUBERNETES,
    OVERLAYS,
    KubectlMissing,
    Manifest,
    build,
    find,
    kubectl,
    load_file,
)
from tests.deployment.problems import Problem, report

EXTERNAL_SECRETS = KUBERNETES / "production" / "external-secrets.yaml"
SEED_HPA_BEHAVIOR = {
    "scaleDown": {
        "stabilizationWindowSeconds": 300,
        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
    },
    "scaleUp": {
        "stabilizationWindowSeconds": 60,
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 60}],
    },
}


def _validate(manifests: list[Manifest]) -> list[Problem]:
    try:
        return schemas.validate(manifests)
    except schemas.CrdSchemasMissing as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_kubernetes_object_validates_strictly(
    builds: dict[str, list[Manifest]], overlay: str
) -> None:
    built = builds[overlay]
    assert {m.kind for m in built} >= {
        "Namespace",
        "Deployment",
        "StatefulSet",
        "Job",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceAccount",
        "ConfigMap",
    }
    problems = [
        p
        for m in built
        if (m.doc["apiVersion"], m.kind) not in schemas.CRD_KINDS
        for p in schemas.validate_kubernetes(m)
    ]
    assert not problems, report(problems, f"Kubernetes schemas, {overlay}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_custom_resource_validates_strictly(
    builds: dict[str, list[Manifest]], overlay: str
) -> None:
    custom = [m for m in builds[overlay] if (m.doc["apiVersion"], m.kind) in schemas.CRD_KINDS]
    assert {m.ref for m in custom} == {
        "SealedSecret/luminate-secrets",
        "SealedSecret/clickhouse-credentials",
        "SealedSecret/alertmanager-secrets",
    }
    problems = _validate(custom)
    assert not problems, report(problems, f"custom resource schemas, {overlay}")


def test_external_secrets_validate_against_their_schemas() -> None:
    objects = load_file(EXTERNAL_SECRETS)
    assert {(m.doc["apiVersion"], m.kind) for m in objects} == {
        ("v1", "ServiceAccount"),
        ("external-secrets.io/v1", "SecretStore"),
        ("external-secrets.io/v1", "ExternalSecret"),
    }
    problems = _validate(objects)
    assert not problems, report(problems, EXTERNAL_SECRETS.name)


def test_production_is_the_planned_shape(production: list[Manifest]) -> None:
    deployment = find(production, "Deployment", "luminate").doc["spec"]
    assert deployment["replicas"] == 5
    assert deployment["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert container(find(production, "Deployment", "luminate").doc)["lifecycle"]["preStop"]
    hpa = find(production, "HorizontalPodAutoscaler", "luminate-hpa").doc["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (5, 20)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    assert hpa["behavior"] == SEED_HPA_BEHAVIOR
    # Pinned: the LTS line / a patch release, or a digest once a release pins one.
    images = {m.name: container(m.doc)["image"] for m in production if m.kind == "StatefulSet"}
    assert set(images) == {"clickhouse", "zookeeper", "alertmanager"}
    digest = r"@sha256:[0-9a-f]{64}"
    assert re.fullmatch(
        rf"quay.io/prometheus/alertmanager(:v0\.\d+\.\d+|{digest})", images["alertmanager"]
    )
    assert re.fullmatch(rf"clickhouse/clickhouse-server(:26\.8|{digest})", images["clickhouse"])
    assert re.fullmatch(rf"zookeeper(:3\.9\.\d+|{digest})", images["zookeeper"])
    assert {m.doc["metadata"]["namespace"] for m in production if m.kind != "Namespace"} == {
        "luminate-prod"
    }


def test_staging_is_production_smaller(builds: dict[str, list[Manifest]]) -> None:
    production, staging = builds["production"], builds["staging"]
    assert {m.doc["metadata"].get("namespace") for m in staging if m.kind != "Namespace"} == {
        "luminate-staging"
    }
    assert [m.name for m in staging if m.kind == "Namespace"] == ["luminate-staging"]
    assert find(staging, "Deployment", "luminate").doc["spec"]["replicas"] == 3
    assert find(staging, "HorizontalPodAutoscaler", "luminate-hpa").doc["spec"]["minReplicas"] == 3
    config = next(
        m for m in staging if m.kind == "ConfigMap" and m.name.startswith("luminate-config")
    )
    assert config.doc["data"]["ENVIRONMENT"] == "staging"
    for name in ("clickhouse", "zookeeper"):
        prod = container(find(production, "StatefulSet", name).doc)["resources"]["limits"]
        stag = container(find(staging, "StatefulSet", name).doc)["resources"]["limits"]
        assert _gib(stag["memory"]) < _gib(prod["memory"]), name
    # Same topology: remote_servers names four servers in both.
    assert find(staging, "StatefulSet", "clickhouse").doc["spec"]["replicas"] == 4


def _gib(quantity: str) -> float:
    return float(quantity.removesuffix("Gi")) if quantity.endswith("Gi") else float("nan")


# ---------------------------------------------------------------- bad input


def test_an_unknown_field_names_file_and_field(production: list[Manifest]) -> None:
    def typo(doc: dict[str, Any]) -> None:
        container(doc)["readinessProbe"]["httpGet"]["pathh"] = "/readyz"

    problems = _validate(mutated(production, "Deployment", "luminate", typo))
    assert problems
    assert {p.file for p in problems} == {
        "deployments/kubernetes/production/luminate-deployment.yaml"
    }
    assert all(
        p.field == "Deployment/luminate spec.template.spec.containers[0].readinessProbe.httpGet"
        and "'pathh' was unexpected" in p.message
        for p in problems
    )


def test_custom_resources_are_validated_strictly(production: list[Manifest]) -> None:
    sealed = mutated(
        production,
        "SealedSecret",
        "luminate-secrets",
        lambda doc: doc["spec"].update(encrypteddata={"jwt-secret": "x"}),
    )
    problems = _validate([m for m in sealed if m.kind == "SealedSecret"])
    assert [(p.file, p.field) for p in problems] == [
        (
            "deployments/kubernetes/production/secrets/luminate-sealed-secret.yaml",
            "SealedSecret/luminate-secrets spec.encrypteddata",
        )
    ]
    external = [m.copy() for m in load_file(EXTERNAL_SECRETS)]
    store = next(m for m in external if m.kind == "SecretStore")
    store.doc["spec"]["provider"]["aws"]["regoin"] = "eu-west-1"
    secret = next(m for m in external if m.kind == "ExternalSecret")
    secret.doc["spec"]["target"]["creationPolicy"] = "Always"
    messages = {p.field: p.message for p in _validate(external)}
    assert set(messages) == {
        "SecretStore/aws-secretsmanager spec.provider.aws.regoin",
        "ExternalSecret/luminate-secrets spec.target.creationPolicy",
    }
    assert "unknown field" in messages["SecretStore/aws-secretsmanager spec.provider.aws.regoin"]


def test_an_outdated_api_version_has_no_schema() -> None:
    external = [m.copy() for m in load_file(EXTERNAL_SECRETS)]
    store = next(m for m in external if m.kind == "SecretStore")
    store.doc["apiVersion"] = "external-secrets.io/v1beta1"  # the seed's; v1 is current
    problems = _validate([store])
    assert [p.field for p in problems] == ["SecretStore/aws-secretsmanager apiVersion"]


def test_a_broken_kustomization_fails_the_build(tmp_path: Path) -> None:
    try:
        kubectl()
    except KubectlMissing as e:
        pytest.skip(str(e))
    root = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, root)
    (root / "production" / "migration-job.yaml").unlink()
    with pytest.raises(RuntimeError, match=r"migration-job\.yaml"):
        build("staging", root)
