"""Schema validation of every manifest object.

Kubernetes' own kinds validate against the JSON schemas `kubernetes-validate` ships, in strict
mode (a field the API does not define fails). SealedSecret, ExternalSecret and SecretStore
validate against their projects' schemas from the npm registry (installed by
scripts/fetch-crd-schemas.sh, pinned and checked by sha256), through crd_validate.mjs, just as
strictly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate

from tests.deployment.manifests import REPO, Manifest
from tests.deployment.problems import Problem, path

# The oldest and the newest Kubernetes release the manifests target (the preStop sleep action
# needs 1.30 or later; 1.35 is the oldest release still supported upstream).
KUBERNETES_VERSIONS = ("1.35.0", "1.37.0")
CRD_KINDS = {
    ("bitnami.com/v1alpha1", "SealedSecret"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("external-secrets.io/v1", "SecretStore"),
}
CRD_MODULES = REPO / ".tools" / "crd-schemas" / "node_modules"
CRD_VALIDATOR = Path(__file__).with_name("crd_validate.mjs")


class CrdSchemasMissing(RuntimeError):
    """node or the installed schema packages are missing."""


def validate(manifests: list[Manifest]) -> list[Problem]:
    """Every problem of every object: Kubernetes kinds and the custom resources alike."""
    problems: list[Problem] = []
    custom = [m for m in manifests if (m.doc.get("apiVersion"), m.kind) in CRD_KINDS]
    for m in manifests:
        if (m.doc.get("apiVersion"), m.kind) not in CRD_KINDS:
            problems.extend(validate_kubernetes(m))
    problems.extend(validate_custom(custom))
    return problems


def validate_kubernetes(m: Manifest) -> list[Problem]:
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(m.doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            field = path(*e.path) or "(object)"
            problems.append(
                Problem(m.source, f"{m.ref} {field}", f"Kubernetes {version}: {e.message}")
            )
        except kubernetes_validate.SchemaNotFoundError as e:
            problems.append(Problem(m.source, f"{m.ref} apiVersion", e.message))
            break
    return problems


def validate_custom(manifests: list[Manifest]) -> list[Problem]:
    if not manifests:
        return []
    node = shutil.which("node")
    if node is None or not CRD_MODULES.is_dir():
        raise CrdSchemasMissing(
            "the custom resource schemas are not installed: run scripts/fetch-crd-schemas.sh "
            "(scripts/test.sh does)"
        )
    result = subprocess.run(
        [node, str(CRD_VALIDATOR), str(CRD_MODULES)],
        input=json.dumps([m.doc for m in manifests]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{CRD_VALIDATOR.name} failed:\n{result.stderr}")
    problems = []
    for m, errors in zip(manifests, json.loads(result.stdout), strict=True):
        for error in errors:
            parts = [int(p) if p.isdigit() else p for p in error["path"].split("/") if p]
            field = path(*parts) or "(object)"
            problems.append(
                Problem(m.source, f"{m.ref} {field}", f"{m.doc['apiVersion']}: {error['message']}")
            )
    return problems
