"""Docs mirror the code: every error code is documented with the status it really answers,
and only real codes are."""

from __future__ import annotations

import re
from pathlib import Path

from luminate.model.errors import STATUS, ErrorCode, LuminateError
from luminate.model.points import PointErrorCode

ROOT = Path(__file__).resolve().parents[2]


def documented_statuses() -> dict[str, int]:
    text = (ROOT / "docs" / "api.md").read_text()
    errors = text[text.index("## Error codes") :]
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", errors, flags=re.MULTILINE)
    documented: dict[str, int] = {}
    for status, code in rows:
        assert code not in documented, f"{code} is documented twice"
        documented[code] = int(status)
    return documented


def test_api_doc_lists_exactly_the_error_codes_with_their_status() -> None:
    documented = documented_statuses()
    assert set(documented) == {c.value for c in ErrorCode}
    for code in ErrorCode:
        assert documented[code.value] == STATUS[code], f"{code.value}: docs/api.md says "
        f"{documented[code.value]}, the code answers {STATUS[code]}"
        assert LuminateError("m", code=code).status == STATUS[code]


def test_every_code_has_one_status() -> None:
    assert set(STATUS) == set(ErrorCode)


def test_api_doc_lists_exactly_the_point_codes() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    points = text[text.index("| rule | per-point code |") : text.index("Response:")]
    assert set(re.findall(r"`([a-z_]+)` \|$", points, flags=re.MULTILINE)) == {
        c.value for c in PointErrorCode
    }


def test_query_timeout_is_documented_as_422_in_prose_too() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    assert "**422** `query_timeout`" in text
    assert "**504**" not in text
