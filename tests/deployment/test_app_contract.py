"""The manifests speak Luminate's language: real settings, real routes, real commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deployment import app_contract
from tests.deployment.conftest import container, mutated
from tests.deployment.manifests import KUBERNETES, OVERLAYS, Manifest
from tests.deployment.problems import Problem, report

CHECKS = (
    app_contract.check_settings,
    app_contract.check_probes_and_ports,
    app_contract.check_commands,
    app_contract.check_secret_files,
    app_contract.check_shutdown,
    app_contract.check_security,
)
DEPLOYMENT = "deployments/kubernetes/production/luminate-deployment.yaml"
KUSTOMIZATION = "deployments/kubernetes/production/kustomization.yaml"
CONTAINER = "Deployment/luminate spec.template.spec.containers[0]"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_manifests_agree_with_the_app(
    builds: dict[str, list[Manifest]], overlay: str, check: Any
) -> None:
    problems = check(builds[overlay])
    assert not problems, report(problems, f"{check.__name__} on {overlay}")


def test_generator_literals_are_settings() -> None:
    files = [KUBERNETES / o / "kustomization.yaml" for o in OVERLAYS]
    problems = app_contract.check_generator_literals(
        files, {"luminate-config", "luminate-backup-config"}
    )
    assert not problems, report(problems, "configMapGenerator literals")


def test_every_luminate_pod_gets_the_settings_it_needs(production: list[Manifest]) -> None:
    found = {m.ref: c for m, _, c in app_contract.luminate_containers(production)}
    assert set(found) == {
        "Deployment/luminate",
        "Job/luminate-migrate",
        "CronJob/clickhouse-backup",
        "StatefulSet/clickhouse",
    }
    env = app_contract.environment(production, found["Deployment/luminate"])
    assert env["LUMINATE_STORAGE_BACKEND"] == "clickhouse"
    assert env["ENVIRONMENT"] == "production"
    for name in (
        "LUMINATE_RATELIMIT_WRITE_RPS",
        "LUMINATE_RATELIMIT_QUERY_RPS",
        "LUMINATE_RATELIMIT_METRICS_PER_SEC",
    ):
        assert name in env
    assert app_contract.secret_file(
        next(m for m in production if m.ref == "Deployment/luminate"),
        found["Deployment/luminate"],
        env["JWT_SECRET_FILE"],
    ) == ("luminate-secrets", "jwt-secret")


# ---------------------------------------------------------------- bad input


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, report(problems, "expected exactly one problem")
    return problems[0]


def test_an_unknown_variable_in_the_configmap_names_file_and_key(
    production: list[Manifest],
) -> None:
    bad = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(LUMINATE_CLICKHOUSE_HOST="clickhouse-0:9000"),
    )
    problems = app_contract.check_settings(bad)
    assert any(
        p.file == KUSTOMIZATION
        and p.field == "ConfigMap/luminate-config data.LUMINATE_CLICKHOUSE_HOST"
        and "not a Luminate setting" in p.message
        for p in problems
    ), report(problems, "settings")


def test_an_unknown_env_entry_names_file_and_field(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "Deployment",
        "luminate",
        lambda doc: (
            container(doc)
            .setdefault("env", [])
            .append({"name": "LUMINATE_RATE_LIMIT_WRITE_RPS", "value": "5"})
        ),
    )
    problems = app_contract.check_settings(bad)
    fields = {(p.file, p.field) for p in problems}
    assert (DEPLOYMENT, f"{CONTAINER}.env[0].name") in fields, report(problems, "settings")


def test_a_value_the_app_rejects_fails(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(LUMINATE_RATELIMIT_WRITE_RPS="fast"),
    )
    problems = app_contract.check_settings(bad)
    assert {p.field for p in problems} == {
        CONTAINER,
        "Job/luminate-migrate spec.template.spec.containers[0]",
        "CronJob/clickhouse-backup spec.jobTemplate.spec.template.spec.containers[0]",
        "StatefulSet/clickhouse spec.template.spec.containers[1]",
    }
    assert all("settings do not load" in p.message for p in problems)


def test_a_generator_literal_typo_names_the_kustomization(tmp_path: Path) -> None:
    file = tmp_path / "kustomization.yaml"
    file.write_text(
        "configMapGenerator:\n- name: luminate-config\n  literals:\n"
        "  - ENVIRONMENT=staging\n  - LUMINATE_LOGLEVEL=info\n"
    )
    problem = _only(app_contract.check_generator_literals([file], {"luminate-config"}))
    assert problem.file == str(file)
    assert problem.field == "configMapGenerator[0].literals[1] (luminate-config)"
    assert "LUMINATE_LOGLEVEL is not a Luminate setting" in problem.message


def test_a_wrong_probe_path_names_file_and_field(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "Deployment",
        "luminate",
        lambda doc: container(doc)["livenessProbe"]["httpGet"].update(path="/health"),
    )
    problem = _only(app_contract.check_probes_and_ports(bad))
    assert (problem.file, problem.field) == (DEPLOYMENT, f"{CONTAINER}.livenessProbe.httpGet.path")
    assert "'/health'" in problem.message


def test_a_probe_on_another_port_names_file_and_field(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "Deployment",
        "luminate",
        lambda doc: container(doc)["readinessProbe"]["httpGet"].update(port=9090),
    )
    problem = _only(app_contract.check_probes_and_ports(bad))
    assert problem.field == f"{CONTAINER}.readinessProbe.httpGet.port"


def test_a_changed_server_port_must_move_the_probes_too(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(LUMINATE_SERVER_PORT="9000"),
    )
    fields = {p.field for p in app_contract.check_probes_and_ports(bad)}
    assert f"{CONTAINER}.ports" in fields
    assert f"{CONTAINER}.startupProbe.httpGet.port" in fields
    assert "Service/luminate-svc spec.ports[0].targetPort" in fields


def test_a_secret_in_the_environment_is_refused(production: list[Manifest]) -> None:
    def inline(doc: dict[str, Any]) -> None:
        container(doc)["env"] = [
            {
                "name": "JWT_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "luminate-secrets", "key": "jwt-secret"}},
            }
        ]

    problems = app_contract.check_secret_files(
        mutated(production, "Deployment", "luminate", inline)
    )
    assert [p.field for p in problems] == [f"{CONTAINER} JWT_SECRET"]


def test_a_secret_file_outside_any_secret_mount_is_refused(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "ConfigMap",
        "luminate-config",
        lambda doc: doc["data"].update(JWT_SECRET_FILE="/etc/luminate/jwt-secret"),
    )
    problem = _only(app_contract.check_secret_files(bad))
    assert (problem.file, problem.field) == (DEPLOYMENT, f"{CONTAINER} JWT_SECRET_FILE")


def test_a_command_that_does_not_exist_is_refused(production: list[Manifest]) -> None:
    bad = mutated(
        production,
        "Job",
        "luminate-migrate",
        lambda doc: container(doc).update(command=["luminate", "migrations"]),
    )
    problems = app_contract.check_commands(bad)
    assert {p.field for p in problems} == {
        "Job/luminate-migrate spec.template.spec.containers[0].command"
    }
    assert any("not a command" in p.message for p in problems)


def test_service_links_and_short_grace_periods_are_refused(production: list[Manifest]) -> None:
    def loosen(doc: dict[str, Any]) -> None:
        doc["spec"]["template"]["spec"]["enableServiceLinks"] = True
        doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30

    problems = app_contract.check_shutdown(mutated(production, "Deployment", "luminate", loosen))
    assert {p.field for p in problems} == {
        "Deployment/luminate spec.template.spec.enableServiceLinks",
        "Deployment/luminate spec.template.spec.terminationGracePeriodSeconds",
    }


def test_a_weaker_security_context_names_each_field(production: list[Manifest]) -> None:
    def weaken(doc: dict[str, Any]) -> None:
        ctx = container(doc)["securityContext"]
        ctx.update(runAsUser=0, readOnlyRootFilesystem=False, allowPrivilegeEscalation=True)
        ctx["capabilities"] = {"add": ["NET_ADMIN"]}
        doc["spec"]["template"]["spec"]["automountServiceAccountToken"] = True

    problems = app_contract.check_security(mutated(production, "Deployment", "luminate", weaken))
    assert {p.field.removeprefix(f"{CONTAINER}.securityContext.") for p in problems} == {
        "runAsUser",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "capabilities.drop",
        "capabilities.add",
        "Deployment/luminate spec.template.spec.automountServiceAccountToken",
    }
    assert {p.file for p in problems} == {DEPLOYMENT}


def test_scraping_the_public_port_is_refused(production: list[Manifest]) -> None:
    """/metrics is served only on the internal port: an annotation naming the public one would
    scrape a 404."""
    bad = mutated(
        production,
        "Deployment",
        "luminate",
        lambda doc: doc["spec"]["template"]["metadata"]["annotations"].update(
            {"prometheus.io/port": "8080"}
        ),
    )
    problem = _only(app_contract.check_probes_and_ports(bad))
    assert problem.field == (
        "Deployment/luminate spec.template.metadata.annotations.prometheus.io/port"
    )
    assert "LUMINATE_SERVER_INTERNAL_PORT" in problem.message


def test_the_public_service_never_reaches_the_internal_port(production: list[Manifest]) -> None:
    def expose_internal(doc: dict[str, Any]) -> None:
        doc["spec"]["ports"].append({"name": "internal", "port": 8081, "targetPort": "internal"})

    bad = mutated(production, "Service", "luminate-svc", expose_internal)
    problem = _only(app_contract.check_probes_and_ports(bad))
    assert problem.field == "Service/luminate-svc spec.ports[1].targetPort"
