"""The Dockerfile: multi-stage, uid 1000, exec-form `luminate serve`, a stdlib health check that
really works against `luminate serve`, and the same contract the manifests rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from testbed.net import free_port
from tests.deployment import app_contract, image
from tests.deployment.manifests import Manifest, find
from tests.deployment.problems import report
from tests.e2e.server import LuminateProcess


def test_the_dockerfile_builds_the_image_the_manifests_expect() -> None:
    problems = image.check_dockerfile(image.DOCKERFILE.read_text())
    problems += image.check_dockerignore(image.DOCKERIGNORE.read_text(), ".dockerignore")
    assert not problems, report(problems, "Dockerfile")


def test_manifests_run_what_the_image_is(production: list[Manifest]) -> None:
    instructions = image.parse(image.DOCKERFILE.read_text())
    entrypoint = next(i for i in reversed(instructions) if i.keyword == "ENTRYPOINT")
    assert tuple(entrypoint.exec_form() or ()) == app_contract.IMAGE_ENTRYPOINT
    user = next(i for i in reversed(instructions) if i.keyword == "USER").args.split(":")[0]
    pod = find(production, "Deployment", "luminate").doc["spec"]["template"]["spec"]
    assert str(pod["securityContext"]["runAsUser"]) == user


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("FROM python:3.11-slim\nUSER 1000\nENTRYPOINT luminate serve\n", "ENTRYPOINT"),
        ("FROM python:3.11-slim AS b\nFROM python:3.11-slim\nUSER root\n", "USER"),
        ("FROM python\nFROM python:latest\n", "line 1 FROM"),
        (
            'FROM a:1 AS b\nFROM a:1\nUSER 1000\nENTRYPOINT ["luminate", "serve"]\n'
            'HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/healthz"]\n',
            "HEALTHCHECK",
        ),
    ],
)
def test_a_bad_dockerfile_names_the_instruction(text: str, field: str) -> None:
    problems = image.check_dockerfile(text)
    assert field in {p.field for p in problems}, report(problems, "Dockerfile")


def test_a_context_that_is_not_an_allowlist_is_refused() -> None:
    problems = image.check_dockerignore(".venv\n.git\n")
    assert [p.field for p in problems][:1] == ["line 1"]


@pytest.mark.e2e
def test_the_healthcheck_and_the_probes_answer_on_a_real_server(tmp_path: Path) -> None:
    health = next(
        i for i in image.parse(image.DOCKERFILE.read_text()) if i.keyword == "HEALTHCHECK"
    )
    argv = image.healthcheck_command(health)
    assert argv is not None and argv[0] == "python"
    command = [sys.executable, *argv[1:]]

    def healthcheck(port: int) -> int:
        env = {"PATH": "/usr/bin:/bin", "LUMINATE_SERVER_PORT": str(port)}
        return subprocess.run(
            command, env=env, timeout=30, check=False, capture_output=True
        ).returncode

    server = LuminateProcess(data_dir=tmp_path / "data", log_path=tmp_path / "server.log").start()
    try:
        assert healthcheck(server.port) == 0
        for path in app_contract.PROBES.values():
            assert httpx.get(f"{server.url}{path}", timeout=10).status_code == 200, path
    finally:
        server.kill()
    assert healthcheck(free_port()) != 0
