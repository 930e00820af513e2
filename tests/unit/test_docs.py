"""Docs mirror the code: every error code is documented, and only real ones are."""

from __future__ import annotations

import re
from pathlib import Path

from luminate.errors import ErrorCode
from luminate.ingest.points import PointErrorCode

ROOT = Path(__file__).resolve().parents[2]


def test_api_doc_lists_exactly_the_error_codes() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    errors = text[text.index("## Error codes") :]
    documented = set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", errors, flags=re.MULTILINE))
    assert documented == {c.value for c in ErrorCode}
    points = text[text.index("| rule | per-point code |") : text.index("Response:")]
    assert set(re.findall(r"`([a-z_]+)` \|$", points, flags=re.MULTILINE)) == {
        c.value for c in PointErrorCode
    }
