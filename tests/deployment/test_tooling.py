"""The tools the deployment tests use are the pinned ones, and the scripts are shellcheck-clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.deployment.manifests import REPO
from tests.deployment.policy_scan import CHECKOV
from tests.deployment.schemas import CRD_MODULES

SCRIPTS = [
    REPO / "scripts" / name
    for name in (
        "fetch-crd-schemas.sh",
        "setup-checkov.sh",
        "sync-clickhouse-configmap.sh",
        "backup-clickhouse.sh",
        "restore-clickhouse.sh",
        "setup-tools.sh",
    )
]
SPEC = REPO / "tests" / "deployment" / "tools"


def test_scripts_are_shellcheck_clean() -> None:
    # The test command installs it (scripts/setup-tools.sh): missing, it is a failure, not a skip.
    assert shutil.which("shellcheck"), "shellcheck missing: run scripts/setup-tools.sh"
    result = subprocess.run(
        ["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout


def test_schema_packages_are_pinned_in_one_version_everywhere() -> None:
    script = (REPO / "scripts" / "fetch-crd-schemas.sh").read_text()
    pinned = dict(re.findall(r'"(@kubernetes-models/[a-z-]+)@([0-9.]+) [0-9a-f]{64}"', script))
    package = json.loads((SPEC / "crd-schemas" / "package.json").read_text())
    lock = json.loads((SPEC / "crd-schemas" / "package-lock.json").read_text())
    assert package["dependencies"] == pinned
    for name, version in pinned.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        installed = CRD_MODULES / name / "package.json"
        if installed.exists():
            assert json.loads(installed.read_text())["version"] == version


def test_checkov_is_the_pinned_release() -> None:
    requirements = (SPEC / "checkov-requirements.txt").read_text()
    assert "checkov==3.3.30" in requirements.splitlines()
    if not CHECKOV.exists():
        pytest.skip("checkov is not installed: run scripts/setup-checkov.sh")
    result = subprocess.run(
        [str(CHECKOV), "--version"], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "3.3.30"
