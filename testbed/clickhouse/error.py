"""The one error the loopback cluster raises: a message, and the logs that explain it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

TAIL_LINES = 40


class ClusterError(RuntimeError):
    """Something about the cluster failed; `str()` adds the last lines of each log named."""

    def __init__(self, message: str, logs: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.logs = tuple(logs)

    def __str__(self) -> str:
        return "".join([self.message, *(_tail(log) for log in self.logs)])


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    if not lines:
        return ""
    return f"\n---- last lines of {log}\n" + "\n".join(lines[-TAIL_LINES:])
