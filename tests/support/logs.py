"""Reading JSON log files: one object per line, as Luminate writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def log_entries(path: Path) -> list[dict[str, Any]]:
    """Every line of `path` as a JSON object (a line that is not one fails the test)."""
    entries = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries
