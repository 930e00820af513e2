"""The Kubernetes manifests under deployments/kubernetes, as kustomize builds them.

Each built object is paired with the repository file it comes from (found by kind and name, the
production base first), so every check can name the file and the field of a problem. Checks take
lists of `Manifest` so tests can hand them mutated copies too.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deployments" / "kubernetes"
OVERLAYS = ("production", "staging")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
_GENERATED_SUFFIX = re.compile(r"-[a-z0-9]{10}$")  # kustomize's content hash on generated names


class KubectlMissing(RuntimeError):
    """kubectl (which carries kustomize) is not on PATH."""


@dataclass(frozen=True)
class Manifest:
    source: str  # repository-relative path
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.doc.get("metadata", {}).get("name", ""))

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def copy(self) -> Manifest:
        return Manifest(self.source, copy.deepcopy(self.doc))


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise KubectlMissing(
            "kubectl is required to build the kustomize overlays and cannot be installed from "
            "the package registries reachable here (PyPI, npm, Debian's archive)"
        )
    return found


def build(overlay: str, root: Path = KUBERNETES) -> list[Manifest]:
    """`kubectl kustomize` of one overlay; a failed build raises with kustomize's message."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(root / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {root / overlay} failed:\n{result.stderr}")
    sources = source_index(root)
    out = []
    for doc in yaml.safe_load_all(result.stdout):
        if not doc:
            continue
        name = str(doc["metadata"]["name"])
        if doc["kind"] in {"ConfigMap", "Secret"}:
            name = _GENERATED_SUFFIX.sub("", name)
        out.append(Manifest(sources.get((doc["kind"], name), f"(built {overlay})"), doc))
    return out


def source_index(root: Path = KUBERNETES) -> dict[tuple[str, str], str]:
    """(kind, name) -> the file defining it: resource files, then generators in kustomizations.

    Production is read first, so an object an overlay only patches keeps its base file (with a
    staging namespace, a problem in it is still reported against the production file that holds
    the field, unless the patch set it)."""
    index: dict[tuple[str, str], str] = {}
    for overlay in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(overlay.rglob("*.yaml")):
            rel = str(file.relative_to(REPO))
            for doc in yaml.safe_load_all(file.read_text()):
                if not isinstance(doc, dict):
                    continue
                if doc.get("kind") == "Kustomization":
                    for generator in doc.get("configMapGenerator", []):
                        index.setdefault(("ConfigMap", generator["name"]), rel)
                    for generator in doc.get("secretGenerator", []):
                        index.setdefault(("Secret", generator["name"]), rel)
                elif "kind" in doc and "metadata" in doc:
                    index.setdefault((doc["kind"], doc["metadata"]["name"]), rel)
    # `production` sorts before `staging`: production sources win by setdefault.
    return index


def relative(file: Path) -> str:
    """How problems name a file: relative to the repository when it is in it."""
    return str(file.relative_to(REPO)) if file.is_relative_to(REPO) else str(file)


def load_file(file: Path) -> list[Manifest]:
    """The objects of one manifest file that no kustomization builds (external-secrets.yaml)."""
    rel = relative(file)
    return [Manifest(rel, doc) for doc in yaml.safe_load_all(file.read_text()) if doc]


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    for m in manifests:
        if m.kind == kind and m.name == name:
            return m
    raise LookupError(f"no {kind}/{name} in the build")


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.kind == kind]


def pod_template(m: Manifest) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """(path to the pod template, the template) of a workload; None for anything else."""
    if m.kind in WORKLOADS:
        return ("spec", "template"), m.doc["spec"]["template"]
    if m.kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template"), m.doc["spec"]["jobTemplate"]["spec"][
            "template"
        ]
    return None


def containers(m: Manifest) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """(path, container) for every container and init container of a workload."""
    found = pod_template(m)
    if found is None:
        return
    prefix, template = found
    for key in ("initContainers", "containers"):
        for i, container in enumerate(template["spec"].get(key, [])):
            yield (*prefix, "spec", key, i), container


def image_name(image: str) -> str:
    """`ghcr.io/org/luminate:0.1.0` -> `luminate`."""
    return image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]


def runs_luminate(container: dict[str, Any]) -> bool:
    return image_name(str(container.get("image", ""))) == "luminate"


def configmap(manifests: list[Manifest], name: str) -> Manifest:
    """The (generated) ConfigMap `name`, hash suffix or not."""
    for m in manifests:
        if m.kind == "ConfigMap" and generated_base_name(m.name) == name:
            return m
    raise LookupError(f"no ConfigMap {name} in the build")


def configmap_data(manifests: list[Manifest], name: str) -> dict[str, str]:
    return dict(configmap(manifests, name).doc.get("data", {}))


def generated_base_name(name: str) -> str:
    return _GENERATED_SUFFIX.sub("", name)
