"""`pip install .` ships the UI: the wheel pip builds from this source tree (as the Dockerfile's
install does) holds every static file byte for byte. Builds in a copy of the tree, with pip's
build isolation (the pinned setuptools from PyPI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from luminate.http.ui import static_dir

ROOT = Path(__file__).resolve().parents[3]


def test_the_wheel_holds_every_ui_file(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("luminate-*.whl")
    static = static_dir()
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name.removeprefix("luminate/ui/static/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith("luminate/ui/static/")
        }
    on_disk = {str(p.relative_to(static)): p.read_bytes() for p in static.rglob("*") if p.is_file()}
    assert sorted(shipped) == sorted(on_disk)
    assert shipped == on_disk
    assert "vendor/uplot/LICENSE" in shipped
