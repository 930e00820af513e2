"""What every check in tests/deployment returns: problems that name a file and a field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str  # repository-relative path of the file the object or setting comes from
    field: str  # `Kind/name path.to[0].field`, or a key of a non-Kubernetes file
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


def path(*parts: str | int) -> str:
    """`spec.template.spec.containers[0].env[3]` from ("spec", ..., "containers", 0, "env", 3)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def report(problems: Iterable[Problem], what: str) -> str:
    """An assertion message: one problem a line, under a heading saying what was checked."""
    listed: Sequence[Problem] = list(problems)
    return f"{what}: {len(listed)} problem(s)\n" + "\n".join(f"  {p}" for p in listed)
