"""The objects of a build refer to each other correctly.

Selectors of Services, PodDisruptionBudgets, NetworkPolicies and the HPA's target find the pods
they mean; every Secret key a pod reads is provided by the secret mechanism in use; every object
carries its deployment phase, and nothing depends on an object of a later phase; no Role grants
anything.
"""

from __future__ import annotations

from typing import Any

from tests.deployment.manifests import Manifest, containers, generated_base_name, pod_template
from tests.deployment.problems import Problem, path

PHASE_LABEL = "luminate/deploy-phase"
PHASES = ("base", "storage", "migrate", "app")  # the order docs/deployment.md applies them in
SCALED = ("Deployment", "StatefulSet")


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions, or a plain map) against labels."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        ok = {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not ok:
            return False
    return True


def pod_labels(m: Manifest) -> dict[str, str]:
    found = pod_template(m)
    return dict(found[1].get("metadata", {}).get("labels", {})) if found else {}


def _workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if pod_template(m) is not None]


def check_selectors(manifests: list[Manifest]) -> list[Problem]:
    problems = []
    workloads = _workloads(manifests)

    def selected(selector: dict[str, Any]) -> list[Manifest]:
        return [w for w in workloads if matches(selector, pod_labels(w))]

    for w in workloads:
        selector = w.doc["spec"].get("selector")
        if w.kind in SCALED and not (selector and matches(selector, pod_labels(w))):
            problems.append(
                Problem(w.source, f"{w.ref} spec.selector", "does not select its own pod template")
            )
    for m in manifests:
        spec = m.doc.get("spec", {})
        if m.kind == "Service" and not selected(spec.get("selector", {})):
            problems.append(Problem(m.source, f"{m.ref} spec.selector", "selects no pods"))
        if m.kind == "PodDisruptionBudget" and not selected(spec["selector"]):
            problems.append(Problem(m.source, f"{m.ref} spec.selector", "selects no pods"))
        if m.kind == "NetworkPolicy" and spec["podSelector"] and not selected(spec["podSelector"]):
            problems.append(Problem(m.source, f"{m.ref} spec.podSelector", "selects no pods"))
        if m.kind == "HorizontalPodAutoscaler":
            problems.extend(_check_hpa(manifests, m))
    budgets = [m for m in manifests if m.kind == "PodDisruptionBudget"]
    for w in workloads:
        covering = [b for b in budgets if matches(b.doc["spec"]["selector"], pod_labels(w))]
        if w.kind in SCALED and len(covering) != 1:
            problems.append(
                Problem(
                    w.source, f"{w.ref} metadata", f"{len(covering)} PodDisruptionBudgets (want 1)"
                )
            )
    for sts in (m for m in manifests if m.kind == "StatefulSet"):
        name = sts.doc["spec"]["serviceName"]
        svc = next((s for s in manifests if s.kind == "Service" and s.name == name), None)
        if (
            svc is None
            or svc.doc["spec"].get("clusterIP") != "None"
            or not matches(svc.doc["spec"].get("selector", {}), pod_labels(sts))
        ):
            problems.append(
                Problem(
                    sts.source,
                    f"{sts.ref} spec.serviceName",
                    f"{name} is not a headless Service selecting these pods",
                )
            )
    return problems


def _check_hpa(manifests: list[Manifest], hpa: Manifest) -> list[Problem]:
    spec = hpa.doc["spec"]
    target = spec["scaleTargetRef"]
    workload = next(
        (m for m in manifests if m.kind == target["kind"] and m.name == target["name"]), None
    )
    if workload is None:
        return [Problem(hpa.source, f"{hpa.ref} spec.scaleTargetRef", f"no {target['kind']}")]
    replicas = workload.doc["spec"].get("replicas", 1)
    if not spec.get("minReplicas", 1) == replicas <= spec["maxReplicas"]:
        return [
            Problem(
                hpa.source,
                f"{hpa.ref} spec.minReplicas",
                f"{spec.get('minReplicas', 1)} differs from {workload.ref}'s {replicas} replicas "
                "(the HPA would resize it on every rollout)",
            )
        ]
    return []


def secret_references(manifests: list[Manifest]) -> list[tuple[Manifest, str, str, str]]:
    """(workload, field, Secret name, key) for every Secret key a pod reads; key "*" for all."""
    refs = []
    for m in manifests:
        found = pod_template(m)
        if found is None:
            continue
        prefix, template = found
        for i, volume in enumerate(template["spec"].get("volumes", [])):
            secret = volume.get("secret")
            if secret:
                field = path(*prefix, "spec", "volumes", i, "secret")
                keys = [item["key"] for item in secret.get("items", [])] or ["*"]
                refs += [(m, field, secret["secretName"], key) for key in keys]
        for where, container in containers(m):
            for j, entry in enumerate(container.get("env", [])):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append((m, path(*where, "env", j), ref["name"], ref["key"]))
            for j, source in enumerate(container.get("envFrom", [])):
                if "secretRef" in source:
                    refs.append((m, path(*where, "envFrom", j), source["secretRef"]["name"], "*"))
    return refs


def provided_secrets(providers: list[Manifest]) -> dict[str, set[str]]:
    """Secret name -> keys, as SealedSecrets and ExternalSecrets will create them."""
    out: dict[str, set[str]] = {}
    for m in providers:
        spec = m.doc.get("spec", {})
        if m.kind == "SealedSecret":
            out.setdefault(m.name, set()).update(spec.get("encryptedData", {}))
        elif m.kind == "ExternalSecret":
            name = spec.get("target", {}).get("name", m.name)
            out.setdefault(name, set()).update(d["secretKey"] for d in spec.get("data", []))
    return out


def check_secret_references(manifests: list[Manifest], providers: list[Manifest]) -> list[Problem]:
    """Every Secret key a pod reads is created by `providers` (one secret mechanism)."""
    provided = provided_secrets(providers)
    by = ", ".join(sorted({p.source for p in providers})) or "no secret provider"
    problems = []
    for m, field, name, key in secret_references(manifests):
        if name not in provided or (key != "*" and key not in provided[name]):
            problems.append(
                Problem(m.source, f"{m.ref} {field}", f"reads Secret {name} key {key}: not in {by}")
            )
    return problems


def check_phases(manifests: list[Manifest]) -> list[Problem]:
    """Every object has a phase; a workload only needs objects of its own or earlier phases."""
    problems = []
    phase = {}
    for m in manifests:
        value = m.doc.get("metadata", {}).get("labels", {}).get(PHASE_LABEL)
        if value not in PHASES:
            problems.append(
                Problem(
                    m.source, f"{m.ref} metadata.labels.{PHASE_LABEL}", f"{value!r} not in {PHASES}"
                )
            )
        else:
            phase[(m.kind, generated_base_name(m.name))] = PHASES.index(value)
    for m in manifests:
        found = pod_template(m)
        if found is None or (m.kind, m.name) not in phase:
            continue
        spec = found[1]["spec"]
        needs = [("ServiceAccount", spec.get("serviceAccountName", "default"))]
        needs += [
            ("ConfigMap", generated_base_name(v["configMap"]["name"]))
            for v in spec.get("volumes", [])
            if "configMap" in v
        ]
        needs += [("SealedSecret", name) for _, _, name, _ in secret_references([m])]
        for _, container in containers(m):
            needs += [
                ("ConfigMap", generated_base_name(s["configMapRef"]["name"]))
                for s in container.get("envFrom", [])
                if "configMapRef" in s
            ]
        for kind, name in needs:
            if phase.get((kind, name), -1) > phase[(m.kind, m.name)]:
                problems.append(
                    Problem(
                        m.source,
                        f"{m.ref} metadata.labels.{PHASE_LABEL}",
                        f"needs {kind}/{name}, which is applied in a later phase",
                    )
                )
    return problems


def check_rbac(manifests: list[Manifest]) -> list[Problem]:
    """Nothing here calls the Kubernetes API: no Role grants anything, no token is mounted."""
    problems = []
    for m in manifests:
        if m.kind in {"Role", "ClusterRole"}:
            for i, rule in enumerate(m.doc.get("rules") or []):
                problems.append(
                    Problem(
                        m.source,
                        f"{m.ref} {path('rules', i)}",
                        f"grants {rule.get('verbs')} on {rule.get('resources')}; Luminate needs no "
                        "Kubernetes API access",
                    )
                )
        if m.kind == "ServiceAccount" and m.doc.get("automountServiceAccountToken") is not False:
            problems.append(
                Problem(m.source, f"{m.ref} automountServiceAccountToken", "must be false")
            )
        found = pod_template(m)
        if found and found[1]["spec"].get("automountServiceAccountToken") is not False:
            problems.append(
                Problem(
                    m.source,
                    f"{m.ref} {path(*found[0], 'spec', 'automountServiceAccountToken')}",
                    "must be false",
                )
            )
    return problems
