"""No plaintext secret in anything git would commit; each finding names its file and field."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from tests.deployment import plaintext
from tests.deployment.problems import report

# Assembled here so this file itself holds no key block for the scan to find.
KEY_BLOCK = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow==\n-----END " + "RSA PRIVATE KEY-----\n"


def test_the_repository_holds_no_plaintext_secret() -> None:
    files = plaintext.repository_files()
    assert "deployments/kubernetes/production/secrets/luminate-sealed-secret.yaml" in files
    assert not any(f.startswith((".venv/", ".tools/")) for f in files)
    problems = plaintext.scan_repository()
    assert not problems, report(problems, "plaintext secrets")


@pytest.mark.parametrize(
    ("file", "text", "field"),
    [
        (
            "deploy/secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n",
            "Secret/db stringData.password",
        ),
        (
            "deploy/app.yaml",
            "kind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n"
            "      containers:\n      - name: app\n        env:\n"
            "        - {name: LUMINATE_CLICKHOUSE_PASSWORD, value: hunter2}\n",
            "Deployment/app spec.template.spec.containers[0].env[0].value "
            "(LUMINATE_CLICKHOUSE_PASSWORD)",
        ),
        (
            "deploy/kustomization.yaml",
            "kind: Kustomization\nconfigMapGenerator:\n- name: c\n  literals: [JWT_SECRET=abc]\n",
            "configMapGenerator[0].literals[0] (JWT_SECRET)",
        ),
        (
            "deploy/kustomization.yaml",
            "kind: Kustomization\nsecretGenerator:\n- name: s\n  literals: [token=abc]\n",
            "secretGenerator[0]",
        ),
        (
            "deploy/sealed.yaml",
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: s}\n"
            f"spec:\n  encryptedData:\n    jwt-secret: {base64.b64encode(b'hunter2').decode()}\n",
            "SealedSecret/s spec.encryptedData.jwt-secret",
        ),
        (
            "deploy/config.yaml",
            "kind: ConfigMap\nmetadata: {name: c}\ndata: {API_TOKEN: abc}\n",
            "ConfigMap/c data.API_TOKEN",
        ),
        (
            "clickhouse/users.xml",
            "<clickhouse><users><luminate><password>hunter2</password></luminate></users>"
            "</clickhouse>",
            "clickhouse/users/luminate/password",
        ),
        ("Dockerfile", "FROM python:3.11-slim\nENV API_TOKEN=abc\n", "line 2 API_TOKEN"),
        ("deploy/prod.env", "JWT_SECRET=abc\n", "line 1 JWT_SECRET"),
        ("notes/key.txt", f"hello\n{KEY_BLOCK}", "line 2"),
    ],
)
def test_a_plaintext_secret_names_file_and_field(file: str, text: str, field: str) -> None:
    problems = plaintext.scan_text(file, text)
    assert [(p.file, p.field) for p in problems] == [(file, field)], report(problems, file)


@pytest.mark.parametrize(
    "text",
    [
        # Where a secret is, not the secret.
        "kind: ConfigMap\nmetadata: {name: c}\ndata: {JWT_SECRET_FILE: /etc/luminate/jwt}\n",
        "env:\n- {name: LUMINATE_CLICKHOUSE_PASSWORD_FILE, value: /etc/luminate/password}\n",
        # From a Secret, not a literal.
        "env:\n- name: CLICKHOUSE_LUMINATE_PASSWORD\n  valueFrom:\n"
        "    secretKeyRef: {name: clickhouse-credentials, key: password}\n",
        # Kubeseal output and the documented placeholder.
        "kind: SealedSecret\nmetadata: {name: s}\nspec:\n  encryptedData:\n"
        f"    a: {base64.b64encode(os.urandom(600)).decode()}\n"
        f"    b: {plaintext.SEALED_PLACEHOLDER}\n",
        # A Secret without data (filled in by the cluster).
        "kind: Secret\nmetadata: {name: s}\ntype: Opaque\n",
    ],
)
def test_references_and_ciphertext_pass(text: str) -> None:
    assert plaintext.scan_text("deploy/ok.yaml", text) == []


def test_new_files_are_scanned_before_they_are_committed(tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=30)
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "secret.yaml").write_text("kind: Secret\ndata: {a: Yg==}\n")
    (tmp_path / "new.yaml").write_text("kind: Secret\nmetadata: {name: s}\ndata: {a: Yg==}\n")
    problems = plaintext.scan_repository(tmp_path)
    assert [(p.file, p.field) for p in problems] == [("new.yaml", "Secret/s data.a")]
