"""Insert columns pre-encoded for clickhouse-driver: the driver must put the very same bytes on
the wire as it does encoding the strings itself, for every column type Luminate inserts into
(on 18.16 and on current servers), or a retried insert would no longer be the identical block
that replicated tables drop."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest
from clickhouse_driver.bufferedwriter import BufferedSocketWriter
from clickhouse_driver.columns.service import write_column

from luminate.storage.engine import Column, Runs
from luminate.storage.native import STRINGS_AS_BYTES, driver_settings, for_driver
from tests.support.driver import writer_context


def _on_the_wire(spec: str, items: Sequence[object], *, as_bytes: bool) -> bytes:
    """What the driver sends for one column of an insert block."""
    context = writer_context(as_bytes=as_bytes)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        buf = BufferedSocketWriter(ours, 1 << 20)
        write_column(context, "c", spec, items, buf)
        buf.flush()
        ours.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := theirs.recv(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


NASTY = ["", "a", "ünïcødé ✓", "日本 🚀", "\0\n\t", "x' OR 1=1 --"]


@pytest.mark.parametrize(
    ("spec", "column"),
    [
        ("String", NASTY),
        ("LowCardinality(String)", NASTY * 3),
        ("String", Runs(["tenant-ä", "", "t"], [3, 1, 2])),
        ("LowCardinality(String)", Runs(["m1", "m2"], [2, 5])),
        ("Array(String)", [[], ["a", "ü"], [], NASTY]),
        ("Array(String)", [[], []]),
        ("Int64", [0, -1, 2**62, 1_700_000_000_000]),
        ("Float64", [0.0, -1.5, float("inf"), 1e300]),
        ("UInt8", [0, 1]),
    ],
)
def test_the_driver_sends_the_same_bytes_as_encoding_itself(spec: str, column: Column) -> None:
    (plain,) = for_driver([column], as_bytes=False)
    (wired,) = for_driver([column], as_bytes=True)
    expected = _on_the_wire(spec, plain, as_bytes=False)
    assert _on_the_wire(spec, wired, as_bytes=True) == expected
    assert expected  # the comparison saw a written column


def test_strings_become_utf8_bytes_and_numbers_stay() -> None:
    wired = for_driver(
        [["é", "b"], [[], ["ü"]], [1, 2], [0.5], Runs(["t"], [2]), []], as_bytes=True
    )
    assert wired == [[b"\xc3\xa9", b"b"], [[], [b"\xc3\xbc"]], [1, 2], [0.5], [b"t", b"t"], []]


def test_a_column_sent_twice_is_encoded_once() -> None:
    # The lead dimension is the same list as its promoted column (storage/columns.py).
    lead = ["c1", "c2"]
    first, second = for_driver([lead, lead], as_bytes=True)
    assert first is second
    assert first == [b"c1", b"c2"]


def test_a_string_that_is_not_unicode_text_fails_before_anything_is_sent() -> None:
    with pytest.raises(UnicodeEncodeError):
        for_driver([["ok", "\ud800"]], as_bytes=True)


def test_without_bytes_runs_are_expanded_and_strings_left_to_the_driver() -> None:
    lead = ["c1"]
    data: list[Column] = [Runs(["t", "u"], [1, 2]), lead, [1]]
    assert for_driver(data, as_bytes=False) == [["t", "u", "u"], ["c1"], [1]]
    assert for_driver(data, as_bytes=False)[1] is lead
    assert driver_settings({"insert_quorum": 2}, as_bytes=False) == {"insert_quorum": 2}
    assert driver_settings({"insert_quorum": 2}, as_bytes=True) == {
        "insert_quorum": 2,
        STRINGS_AS_BYTES: True,
    }
