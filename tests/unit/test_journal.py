"""The insert journal: which batches a crash left unfinished, which request keys are recent, a
torn last record, and compaction that keeps both."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from luminate.storage import journal as journal_module
from luminate.storage.journal import Journal


def test_begun_but_not_done_batches_are_unfinished(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", fsync=False)
    a = j.begin(10)
    b = j.begin(20)
    j.done(a, [b"\x01" * 16])
    assert b > a
    assert Journal(tmp_path / "j", fsync=False).unfinished() == {b: 20}


def test_a_torn_last_record_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path, fsync=False)
    a = j.begin(5)
    j.done(a)
    with path.open("a") as f:
        f.write("B 123")  # killed mid-write: no insert followed it
    assert j.unfinished() == {}


def test_recent_keys_are_those_of_done_batches_within_the_window(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", fsync=False, keys_window_s=60)
    a = j.begin(1)
    j.done(a, [b"k" * 16, b"l" * 16])
    b = j.begin(1)
    j.done(b, [b"m" * 16])
    now = time.time_ns()
    assert j.recent_keys(now) == {b"k" * 16: a, b"l" * 16: a, b"m" * 16: b}
    assert j.recent_keys(now + 120 * 10**9) == {}


def test_compaction_keeps_open_batches_and_recent_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "_COMPACT_BYTES", 2_000)
    path = tmp_path / "j"
    j = Journal(path, fsync=False, keys_window_s=600)
    still_open = j.begin(7)
    first = j.begin(1)
    j.done(first, [b"a" * 16])
    for _ in range(200):
        j.done(j.begin(1))  # no keys: nothing to keep
    assert path.stat().st_size < 2_000 * 2
    assert j.unfinished() == {still_open: 7}
    assert j.recent_keys(time.time_ns()) == {b"a" * 16: first}


def test_reset_forgets_unfinished_batches_but_keeps_recent_keys(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", fsync=False)
    j.begin(3)
    done = j.begin(1)
    j.done(done, [b"z" * 16])
    j.reset()
    fresh = Journal(tmp_path / "j", fsync=False)
    assert fresh.unfinished() == {}
    assert fresh.recent_keys(time.time_ns()) == {b"z" * 16: done}
