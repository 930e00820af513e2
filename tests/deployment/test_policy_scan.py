"""checkov (offline) passes over both built overlays and the Dockerfile; every skip has a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deployment import policy_scan
from tests.deployment.conftest import container, mutated
from tests.deployment.manifests import OVERLAYS, REPO, Manifest
from tests.deployment.problems import report

# Checks skipped on purpose, each with its reason in the manifest's checkov.io/skipN annotation.
SKIPPED = {"CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_40", "CKV_K8S_43"}


def _scan(manifests: list[Manifest], workdir: Path) -> policy_scan.Scan:
    try:
        return policy_scan.scan_manifests(manifests, workdir)
    except policy_scan.CheckovMissing as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_passes_over_the_built_manifests(
    builds: dict[str, list[Manifest]], overlay: str, tmp_path: Path
) -> None:
    scan = _scan(builds[overlay], tmp_path)
    assert not scan.problems, report(scan.problems, f"checkov on {overlay}")
    assert scan.summary["failed"] == 0 and scan.summary["passed"] > 100
    assert {check for _, check, _ in scan.skipped} == SKIPPED


def test_checkov_passes_over_the_dockerfile() -> None:
    try:
        scan = policy_scan.scan_dockerfile(REPO / "Dockerfile")
    except policy_scan.CheckovMissing as e:
        pytest.skip(str(e))
    assert not scan.problems, report(scan.problems, "checkov on the Dockerfile")
    assert scan.summary["failed"] == 0 and not scan.skipped


# ---------------------------------------------------------------- bad input


def test_a_privileged_container_and_a_reasonless_skip_fail(
    production: list[Manifest], tmp_path: Path
) -> None:
    def loosen(doc: dict[str, Any]) -> None:
        container(doc)["securityContext"]["privileged"] = True
        doc["metadata"]["annotations"]["checkov.io/skip4"] = "CKV_K8S_21"

    scan = _scan(mutated(production, "StatefulSet", "zookeeper", loosen), tmp_path)
    found = {(p.file, p.field) for p in scan.problems}
    source = "deployments/kubernetes/production/zookeeper-statefulset.yaml"
    assert (source, "StatefulSet.luminate-prod.zookeeper CKV_K8S_16") in found, report(
        scan.problems, "checkov"
    )
    assert (source, "StatefulSet.luminate-prod.zookeeper CKV_K8S_21") in found


def test_a_dockerfile_running_as_root_without_healthcheck_fails(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM python:3.11-slim-bookworm\nENTRYPOINT ["luminate", "serve"]\n')
    try:
        scan = policy_scan.scan_dockerfile(dockerfile)
    except policy_scan.CheckovMissing as e:
        pytest.skip(str(e))
    checks = {p.field.rsplit(" ", 1)[1] for p in scan.problems}
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3"} <= checks, report(scan.problems, "checkov")
    assert {p.file for p in scan.problems} == {str(dockerfile)}
