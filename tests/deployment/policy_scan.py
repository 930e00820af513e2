"""checkov, offline, over the built manifests and the Dockerfile.

checkov lives in its own virtualenv (.tools/checkov-venv, scripts/setup-checkov.sh). A scan
passes when no check fails and every skipped check carries its reason (the checkov.io/skipN
annotation or `# checkov:skip=` comment text after the check id).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.deployment.manifests import REPO, Manifest
from tests.deployment.problems import Problem

CHECKOV = REPO / ".tools" / "checkov-venv" / "bin" / "checkov"


class CheckovMissing(RuntimeError):
    """checkov's virtualenv is not installed."""


@dataclass(frozen=True)
class Scan:
    summary: dict[str, Any]
    skipped: list[tuple[str, str, str]]  # (resource, check id, reason)
    problems: list[Problem]


def scan_manifests(manifests: list[Manifest], workdir: Path) -> Scan:
    """Scan the objects as one manifest file; failures name the object's source file."""
    target = workdir / "manifests.yaml"
    target.write_text(yaml.safe_dump_all([m.doc for m in manifests], sort_keys=False))
    sources = {
        f"{m.kind}.{m.doc['metadata'].get('namespace', 'default')}.{m.name}": m.source
        for m in manifests
    }
    return _scan(["-d", str(workdir), "--framework", "kubernetes"], lambda r: sources.get(r, "?"))


def scan_dockerfile(dockerfile: Path) -> Scan:
    rel = str(dockerfile.relative_to(REPO)) if dockerfile.is_relative_to(REPO) else str(dockerfile)
    return _scan(["-f", str(dockerfile), "--framework", "dockerfile"], lambda _: rel)


def _scan(args: list[str], source_of: Callable[[str], str]) -> Scan:
    if not CHECKOV.exists():
        raise CheckovMissing(
            "checkov is not installed: run scripts/setup-checkov.sh (scripts/test.sh does)"
        )
    result = subprocess.run(
        [str(CHECKOV), "--skip-download", "--output", "json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"checkov gave no report ({result.returncode}):\n{result.stderr}") from e
    if isinstance(report, list):  # one report per framework; we ask for one
        (report,) = report
    summary = report.get("summary", report)
    results = report.get("results", {})
    problems = []
    for check in results.get("failed_checks", []):
        problems.append(
            Problem(
                source_of(check["resource"]),
                f"{check['resource']} {check['check_id']}",
                f"checkov: {check['check_name']}",
            )
        )
    skipped = []
    for check in results.get("skipped_checks", []):
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        skipped.append((check["resource"], check["check_id"], reason))
        # checkov's own text when an annotation names the check and nothing else.
        if reason == "No comment provided" or len(reason) < 10:
            problems.append(
                Problem(
                    source_of(check["resource"]),
                    f"{check['resource']} {check['check_id']}",
                    "skipped without a reason (checkov.io/skipN: CHECK_ID=why)",
                )
            )
    if summary.get("parsing_errors"):
        problems.append(
            Problem("(checkov)", "parsing", f"{summary['parsing_errors']} file(s) unread")
        )
    if not summary.get("resource_count"):
        problems.append(Problem("(checkov)", "resources", "nothing was scanned"))
    return Scan(summary, skipped, problems)
