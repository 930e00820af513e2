"""Opening the embedded engine: it loads what the write path needs, so the first write after a
start does not stall every request while libraries import, and it refuses a copied data
directory whose tables it could not reach instead of starting empty beside them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.clock import now_ms

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


# chDB runs one embedded server per process, for one path: each store opens in its own child.
_STORE = """
import sys
from luminate.model.points import TenantPoints
from luminate.model.query import AggregateRow, Aggregation, Query, QueryType, TimeRange
from luminate.storage.compile import Layout
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.errors import StorageUnavailable
from luminate.storage.store import Storage

action, path, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    engine = EmbeddedEngine(path)
except StorageUnavailable as exc:
    print("refused:", exc)
    sys.exit(0)
storage = Storage(engine, Layout(), fsync=False)
storage.migrate()
if action == "write":
    storage.write([TenantPoints("t", ["m"], [now], [1.5], [["host"]], [["a"]])])
q = Query(QueryType.AGGREGATE, "m", TimeRange(0, now + 1), aggregation=Aggregation.COUNT)
rows = storage.query("t", q).rows
print("points:", sum(r.count for r in rows if isinstance(r, AggregateRow)))
engine.close()
"""


def _store(action: str, path: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _STORE, action, str(path), str(now_ms())],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip()


def test_a_copy_that_dropped_symbolic_links_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    assert _store("write", tmp_path / "data") == "points: 1"

    def without_links(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if os.path.islink(os.path.join(folder, n))]

    shutil.copytree(tmp_path / "data", tmp_path / "copy", ignore=without_links)
    before = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*"))
    answer = _store("open", tmp_path / "copy")
    assert answer.startswith("refused:") and "dropped symbolic links" in answer, answer
    assert "cp -a" in answer
    after = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*"))
    assert after == before  # no new database was started beside the data
    # A copy that keeps the links opens with the point in it.
    shutil.copytree(tmp_path / "data", tmp_path / "kept", symlinks=True)
    assert _store("open", tmp_path / "kept") == "points: 1"
