from __future__ import annotations

import pytest

from luminate.model.time import parse_duration, parse_time


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-11-25T10:00:00Z", 1795600800000),
        ("2026-11-25T10:00:00.123Z", 1795600800123),
        ("2026-11-25T12:00:00+02:00", 1795600800000),
        ("2026-11-25t10:00:00.123456789z", 1795600800123),
        (1795600800123, 1795600800123),
        ("1795600800123", 1795600800123),
    ],
)
def test_parse_time(text: object, ms: int) -> None:
    assert parse_time(text) == ms


@pytest.mark.parametrize(
    "bad",
    [
        "2026-11-25T10:00:00",
        "yesterday",
        "",
        -1,
        True,
        1.5,
        None,
        [],
        10**16,
        "2026-13-45T10:00:00Z",
    ],
)
def test_parse_time_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match=r"time|RFC 3339|milliseconds"):
        parse_time(bad)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("15m", 900_000),
        ("1h", 3_600_000),
        ("2h30m", 9_000_000),
        ("500ms", 500),
        ("7d", 604_800_000),
        ("1w", 604_800_000),
        ("10s", 10_000),
    ],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("bad", ["", "15", "m", "1y", "-5m", "0s", "1h ", "1.5h", "1h-30m"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)
