"""Opening the embedded engine loads what the write path needs, so the first write after a
start does not stall every request while libraries import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# In a fresh interpreter: modules other tests imported would hide a lazy import here.
_FIRST_WRITE = """
import sys
from luminate.model.points import TenantPoints
from luminate.storage.compile import Layout
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.store import Storage

storage = Storage(EmbeddedEngine(sys.argv[1]), Layout(), fsync=False)
storage.migrate()
points = TenantPoints("t", ["m"], [1_795_600_800_000], [1.5], [["host"]], [["a"]])
before = set(sys.modules)
storage.write([points])
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_the_first_write_after_opening_imports_nothing(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_WRITE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.split() == []
