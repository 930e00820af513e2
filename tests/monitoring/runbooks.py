"""Every alert has a runbook at docs/runbooks/<alertname>.md with the sections an on-call
engineer needs, and its runbook_url resolves to that file."""

from __future__ import annotations

import re
from pathlib import Path

from tests.monitoring.artefacts import REPO, RUNBOOK_BASE, RUNBOOKS, Rule

SECTIONS = ("Meaning", "Impact", "First commands", "Mitigation", "Escalation", "Post-incident")
# Pages of the backup procedures, written with the backup job; alert runbooks may link to them.
PROCEDURES = {"backup-failed.md", "restore-after-data-loss.md"}


def check(alerts: list[Rule], runbooks: Path = RUNBOOKS) -> list[str]:
    """Problems, each naming the alert (and the file) it is about."""
    problems = []
    for alert in alerts:
        url = str(alert.doc.get("annotations", {}).get("runbook_url", ""))
        page = runbooks / f"{alert.name}.md"
        if url != RUNBOOK_BASE + page.name:
            problems.append(f"{alert.file}: {alert.name} runbook_url {url!r} is not {page.name}")
        if not page.is_file():
            where = page.relative_to(REPO) if page.is_relative_to(REPO) else page
            problems.append(f"{alert.name}: no runbook {where}")
            continue
        text = page.read_text()
        if not text.startswith(f"# {alert.name}\n"):
            problems.append(f"{page.name}: does not start with '# {alert.name}'")
        for section in SECTIONS:
            if f"\n## {section}\n" not in text:
                problems.append(f"{page.name}: no '## {section}' section")
        for link in re.findall(r"\]\(([^)#]+\.md)\)", text):
            if not (runbooks / link).is_file() and link not in PROCEDURES:
                problems.append(f"{page.name}: links to missing {link}")
    return problems
