"""The manifests agree with the Luminate application itself.

Every variable a Luminate container gets (env, envFrom ConfigMaps, generator literals) is a real
setting and loads; probes, ports and the Prometheus annotations name routes and the port the app
serves; the commands exist; secrets reach the app as the files its *_FILE settings name; the grace
period covers the shutdown sequence; the security context is the locked-down one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from luminate.app import ROUTES
from luminate.settings import ConfigError, describe, load_settings
from tests.deployment.manifests import (
    REPO,
    Manifest,
    configmap_data,
    containers,
    generated_base_name,
    pod_template,
    relative,
    runs_luminate,
)
from tests.deployment.problems import Problem, path

PROBES = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/startupz"}
# Which secret files each command needs: migrating never touches tokens.
SECRET_FILES = {
    "serve": ("JWT_SECRET_FILE", "LUMINATE_CLICKHOUSE_PASSWORD_FILE"),
    "migrate": ("LUMINATE_CLICKHOUSE_PASSWORD_FILE",),
    # The backup job and the agents beside the servers share the backup token.
    "backup": ("LUMINATE_CLICKHOUSE_PASSWORD_FILE", "LUMINATE_BACKUP_TOKEN_FILE"),
}
# What each kind of workload runs: the API, the schema migration, the backup job, and the
# backup agent beside each ClickHouse server.
COMMANDS = {
    "Deployment": ("serve",),
    "Job": ("migrate",),
    "CronJob": ("backup", "create"),
    "StatefulSet": ("backup", "agent"),
}
# The backup agent writes into the server's data directory, so it runs as the server's user.
AGENT_UID = 101
IMAGE_ENTRYPOINT = (
    "luminate",
    "serve",
)  # the Dockerfile's ENTRYPOINT (tests/deployment/test_image.py)
LUMINATE = REPO / ".venv" / "bin" / "luminate"


def setting_names() -> set[str]:
    return {spec.env for spec in describe()}


def route_paths() -> set[str]:
    return {str(route.path) for route in ROUTES if "GET" in (route.methods or ())}


def luminate_containers(
    manifests: list[Manifest],
) -> Iterator[tuple[Manifest, tuple[str | int, ...], dict[str, Any]]]:
    for m in manifests:
        for where, container in containers(m):
            if runs_luminate(container):
                yield m, where, container


def command(container: dict[str, Any]) -> tuple[str, ...]:
    return tuple(container.get("command") or IMAGE_ENTRYPOINT) + tuple(container.get("args", []))


def environment(manifests: list[Manifest], container: dict[str, Any]) -> dict[str, str]:
    """What the container's environment holds: ConfigMap values, literals, secret stand-ins."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(
                configmap_data(manifests, generated_base_name(source["configMapRef"]["name"]))
            )
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        env[entry["name"]] = (
            f"secret {ref['name']}/{ref['key']}" if ref else str(entry.get("value", ""))
        )
    return env


def check_settings(manifests: list[Manifest]) -> list[Problem]:
    """Every variable is a setting, and the whole environment loads as Luminate's settings."""
    known = setting_names()
    problems = []
    for m, where, container in luminate_containers(manifests):
        for i, entry in enumerate(container.get("env", [])):
            if entry["name"] not in known:
                problems.append(
                    Problem(
                        m.source,
                        f"{m.ref} {path(*where, 'env', i, 'name')}",
                        _unknown(entry["name"]),
                    )
                )
        for i, source in enumerate(container.get("envFrom", [])):
            if "configMapRef" not in source:
                problems.append(
                    Problem(
                        m.source,
                        f"{m.ref} {path(*where, 'envFrom', i)}",
                        "only ConfigMaps may feed Luminate's environment; mount secrets as files",
                    )
                )
                continue
            name = generated_base_name(source["configMapRef"]["name"])
            cm = next(
                (
                    c
                    for c in manifests
                    if c.kind == "ConfigMap" and generated_base_name(c.name) == name
                ),
                None,
            )
            if cm is None:
                problems.append(
                    Problem(
                        m.source, f"{m.ref} {path(*where, 'envFrom', i)}", f"no ConfigMap {name}"
                    )
                )
                continue
            for key in cm.doc.get("data", {}):
                if key not in known:
                    problems.append(
                        Problem(cm.source, f"ConfigMap/{name} data.{key}", _unknown(key))
                    )
        try:
            load_settings(environment(manifests, container))
        except (ConfigError, LookupError) as e:
            problems.append(
                Problem(m.source, f"{m.ref} {path(*where)}", f"settings do not load: {e}")
            )
    return problems


def check_generator_literals(kustomizations: list[Path], names: set[str]) -> list[Problem]:
    """`KEY=value` literals of the named configMapGenerators, in every kustomization."""
    known = setting_names()
    problems = []
    for file in kustomizations:
        rel = relative(file)
        doc = yaml.safe_load(file.read_text())
        for g, generator in enumerate(doc.get("configMapGenerator", [])):
            if generator["name"] not in names:
                continue
            for j, literal in enumerate(generator.get("literals", [])):
                key = literal.split("=", 1)[0]
                if key not in known:
                    field = path("configMapGenerator", g, "literals", j)
                    problems.append(Problem(rel, f"{field} ({generator['name']})", _unknown(key)))
    return problems


def _unknown(name: str) -> str:
    return f"{name} is not a Luminate setting (see `luminate config docs`)"


def server_port(manifests: list[Manifest], container: dict[str, Any]) -> int:
    return load_settings(environment(manifests, container)).server_port


def internal_port(manifests: list[Manifest], container: dict[str, Any]) -> int:
    return load_settings(environment(manifests, container)).server_internal_port


def check_probes_and_ports(manifests: list[Manifest]) -> list[Problem]:
    routes = route_paths()
    problems = []
    for m, where, container in luminate_containers(manifests):
        if command(container)[1:2] != ("serve",):
            continue
        port = server_port(manifests, container)
        named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        if port not in named.values():
            problems.append(
                Problem(m.source, f"{m.ref} {path(*where, 'ports')}", f"no containerPort {port}")
            )
        for probe, expected in PROBES.items():
            field = f"{m.ref} {path(*where, probe, 'httpGet')}"
            get = container.get(probe, {}).get("httpGet")
            if get is None:
                problems.append(Problem(m.source, field, f"missing (expected GET {expected})"))
                continue
            if get.get("path") != expected or expected not in routes:
                problems.append(
                    Problem(
                        m.source,
                        f"{field}.path",
                        f"{get.get('path')!r}: expected {expected!r}, a route of the app",
                    )
                )
            target = named.get(get["port"], get["port"])
            if target != port:
                problems.append(
                    Problem(
                        m.source, f"{field}.port", f"{get['port']!r} is not the server port {port}"
                    )
                )
        template = pod_template(m)
        annotations = template[1].get("metadata", {}).get("annotations", {}) if template else {}
        if annotations.get("prometheus.io/scrape") == "true":
            at = f"{m.ref} {path('spec', 'template', 'metadata', 'annotations')}"
            # /metrics is served only on the internal port.
            internal = internal_port(manifests, container)
            if annotations.get("prometheus.io/port") != str(internal):
                problems.append(
                    Problem(
                        m.source,
                        f"{at}.prometheus.io/port",
                        f"not {internal} (LUMINATE_SERVER_INTERNAL_PORT)",
                    )
                )
            if internal not in named.values():
                problems.append(
                    Problem(
                        m.source, f"{m.ref} {path(*where, 'ports')}", f"no containerPort {internal}"
                    )
                )
            if annotations.get("prometheus.io/path") not in routes:
                problems.append(
                    Problem(m.source, f"{at}.prometheus.io/path", "not a route of the app")
                )
        problems.extend(_services_reach(manifests, m, named, port))
    return problems


def _services_reach(
    manifests: list[Manifest], workload: Manifest, named: dict[Any, int], port: int
) -> list[Problem]:
    template = pod_template(workload)
    labels = template[1].get("metadata", {}).get("labels", {}) if template else {}
    problems = []
    for svc in manifests:
        selector = svc.doc.get("spec", {}).get("selector") if svc.kind == "Service" else None
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        for i, p in enumerate(svc.doc["spec"].get("ports", [])):
            target = p.get("targetPort", p["port"])
            if named.get(target, target) != port:
                problems.append(
                    Problem(
                        svc.source,
                        f"{svc.ref} {path('spec', 'ports', i, 'targetPort')}",
                        f"{target!r} does not reach {workload.ref}'s server port {port}",
                    )
                )
    return problems


def check_commands(manifests: list[Manifest]) -> list[Problem]:
    """Each container runs `luminate <subcommand>`, and the subcommand exists in this build."""
    problems = []
    for m, where, container in luminate_containers(manifests):
        argv = command(container)
        field = f"{m.ref} {path(*where, 'command')}"
        if argv[:1] != ("luminate",) or len(argv) < 2:
            problems.append(
                Problem(m.source, field, f"{list(argv)} does not run `luminate <command>`")
            )
            continue
        result = subprocess.run(
            [str(LUMINATE), argv[1], "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            problems.append(Problem(m.source, field, f"`luminate {argv[1]}` is not a command"))
        expected = COMMANDS.get(m.kind, ("serve",))
        if argv[1 : 1 + len(expected)] != expected:
            problems.append(
                Problem(m.source, field, f"a {m.kind} runs `luminate {' '.join(expected)}`")
            )
    return problems


def check_secret_files(manifests: list[Manifest]) -> list[Problem]:
    """Each *_FILE setting a command needs points into a read-only mount of a Secret key."""
    problems = []
    for m, where, container in luminate_containers(manifests):
        env = environment(manifests, container)
        needed = SECRET_FILES.get(command(container)[1] if len(command(container)) > 1 else "", ())
        for setting in needed:
            field = f"{m.ref} {path(*where)} {setting}"
            value = env.get(setting, "")
            if not value:
                problems.append(
                    Problem(m.source, field, "not set: the secret must come from a file")
                )
                continue
            if secret_file(m, container, value) is None:
                problems.append(
                    Problem(m.source, field, f"{value} is not a key of a Secret mounted read-only")
                )
        for secret in ("JWT_SECRET", "LUMINATE_CLICKHOUSE_PASSWORD"):
            if env.get(secret):
                problems.append(
                    Problem(
                        m.source,
                        f"{m.ref} {path(*where)} {secret}",
                        f"use {secret}_FILE with a mounted Secret instead of the variable",
                    )
                )
    return problems


def secret_file(m: Manifest, container: dict[str, Any], file: str) -> tuple[str, str] | None:
    """(Secret name, key) behind a file path in the container, if a Secret mount provides it."""
    template = pod_template(m)
    volumes = {v["name"]: v for v in template[1]["spec"].get("volumes", [])} if template else {}
    target = PurePosixPath(file)
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if secret is None or not mount.get("readOnly"):
            continue
        root = PurePosixPath(mount["mountPath"])
        if target.parent != root or mount.get("subPath"):
            continue
        items = {i["path"]: i["key"] for i in secret.get("items", [])}
        key = items.get(target.name) if items else target.name
        if key is not None:
            return secret["secretName"], key
    return None


def check_shutdown(manifests: list[Manifest]) -> list[Problem]:
    """The grace period outlasts preStop + the app's drain; no service links (LUMINATE_SVC_*)."""
    problems = []
    for m, _, container in luminate_containers(manifests):
        template = pod_template(m)
        assert template is not None
        prefix, spec = template[0], template[1]["spec"]
        if spec.get("enableServiceLinks") is not False:
            problems.append(
                Problem(
                    m.source,
                    f"{m.ref} {path(*prefix, 'spec', 'enableServiceLinks')}",
                    "must be false: service links inject LUMINATE_* variables the app rejects",
                )
            )
        if command(container)[1:2] != ("serve",):
            continue
        settings = load_settings(environment(manifests, container))
        pre_stop = (
            container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        )
        needed = pre_stop + settings.shutdown_delay_seconds + settings.shutdown_timeout_seconds
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace <= needed:
            problems.append(
                Problem(
                    m.source,
                    f"{m.ref} {path(*prefix, 'spec', 'terminationGracePeriodSeconds')}",
                    f"{grace}s does not cover preStop {pre_stop}s + shutdown delay and timeout "
                    f"({needed:g}s in all)",
                )
            )
    return problems


def check_security(manifests: list[Manifest]) -> list[Problem]:
    """Luminate's pods: uid 1000, read-only root, no privilege escalation, no capabilities,
    RuntimeDefault seccomp, no service account token."""
    problems = []
    for m, where, container in luminate_containers(manifests):
        template = pod_template(m)
        assert template is not None
        prefix, pod = template[0], template[1]["spec"]
        pod_ctx = pod.get("securityContext", {})
        ctx = container.get("securityContext", {})
        capabilities = ctx.get("capabilities", {})
        seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {})).get("type")
        uid = AGENT_UID if command(container)[1:3] == ("backup", "agent") else 1000
        rules = [
            ("runAsUser", ctx.get("runAsUser", pod_ctx.get("runAsUser")) == uid, f"must be {uid}"),
            (
                "runAsNonRoot",
                ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True,
                "must be true",
            ),
            ("readOnlyRootFilesystem", ctx.get("readOnlyRootFilesystem") is True, "must be true"),
            (
                "allowPrivilegeEscalation",
                ctx.get("allowPrivilegeEscalation") is False,
                "must be false",
            ),
            ("capabilities.drop", "ALL" in capabilities.get("drop", []), "must drop ALL"),
            ("capabilities.add", not capabilities.get("add"), "must add nothing"),
            ("seccompProfile.type", seccomp == "RuntimeDefault", "must be RuntimeDefault"),
        ]
        for field, ok, message in rules:
            if not ok:
                at = path(*where, "securityContext", field)
                problems.append(Problem(m.source, f"{m.ref} {at}", message))
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(
                Problem(
                    m.source,
                    f"{m.ref} {path(*prefix, 'spec', 'automountServiceAccountToken')}",
                    "must be false: Luminate never calls the Kubernetes API",
                )
            )
    return problems
