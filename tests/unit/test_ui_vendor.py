"""The vendored uPlot is exactly the pinned npm package: the tarball scripts/vendor-uplot.sh
fetched has the pinned sha256 and sha512 integrity, and every vendored file (licence included)
is byte for byte the tarball's member."""

from __future__ import annotations

import base64
import hashlib
import re
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "vendor-uplot.sh"
VENDORED = ROOT / "src" / "luminate" / "ui" / "static" / "vendor" / "uplot"


def pin(name: str) -> str:
    found = re.search(rf"^{name}=(\S+)$", SCRIPT.read_text(), flags=re.MULTILINE)
    assert found, f"{SCRIPT} pins no {name}"
    return found.group(1)


def members() -> dict[str, str]:
    """Tarball member -> vendored file name, as the script lists them."""
    listed = re.findall(r'^\s+"(package/\S+) (\S+)"$', SCRIPT.read_text(), flags=re.MULTILINE)
    assert listed
    return dict(listed)


def tarball() -> Path:
    path = ROOT / ".tools" / "uplot" / f"uplot-{pin('version')}.tgz"
    assert path.exists(), f"{path} is missing: run scripts/vendor-uplot.sh (the test command does)"
    return path


def differences(tgz: Path, vendored: Path) -> list[str]:
    """Vendored files that are not the tarball's members, byte for byte."""
    out = []
    with tarfile.open(tgz) as tar:
        for member, name in members().items():
            extracted = tar.extractfile(member)
            assert extracted is not None, member
            target = vendored / name
            if not target.exists() or target.read_bytes() != extracted.read():
                out.append(name)
    return out


def test_the_tarball_is_the_pinned_one() -> None:
    data = tarball().read_bytes()
    assert hashlib.sha256(data).hexdigest() == pin("sha256")
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert f"sha512-{digest}" == pin("integrity")


def test_the_vendored_files_are_the_pinned_packages() -> None:
    assert set(members().values()) == {"uPlot.esm.js", "uPlot.min.css", "LICENSE"}
    assert differences(tarball(), VENDORED) == []
    assert sorted(p.name for p in VENDORED.iterdir()) == sorted(members().values())
    assert "MIT License" in (VENDORED / "LICENSE").read_text()


def test_a_changed_byte_is_found(tmp_path: Path) -> None:
    """Control: the comparison fails for a copy with one byte changed or a file missing."""
    copy = tmp_path / "uplot"
    copy.mkdir()
    for name in members().values():
        (copy / name).write_bytes((VENDORED / name).read_bytes())
    assert differences(tarball(), copy) == []
    js = copy / "uPlot.esm.js"
    data = bytearray(js.read_bytes())
    data[1000] ^= 1
    js.write_bytes(bytes(data))
    (copy / "LICENSE").unlink()
    assert differences(tarball(), copy) == ["uPlot.esm.js", "LICENSE"]


@pytest.mark.parametrize("name", ["version", "sha256", "integrity"])
def test_the_script_pins_exactly(name: str) -> None:
    value = pin(name)
    patterns = {
        "version": r"\d+\.\d+\.\d+",
        "sha256": r"[0-9a-f]{64}",
        "integrity": r"sha512-[A-Za-z0-9+/]{86}==",
    }
    assert re.fullmatch(patterns[name], value), value
