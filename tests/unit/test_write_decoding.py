"""Large and hostile write bodies: decoded in chunks and point by point with the same verdicts
as a small body gets, and an oversized point is judged without building what it holds."""

from __future__ import annotations

import random
from collections.abc import Sequence

import msgspec
import pytest

from luminate.http.codec import write
from luminate.http.codec.write import MAX_POINT_BYTES, WHOLE_BODY_BYTES, WriteDecoder
from luminate.ingest.validate import PointValidator
from luminate.model.points import PointErrorCode

NOW = 1_795_600_800_000
LIMITS = {"max_age_ms": 7 * 86_400_000, "max_future_ms": 3_600_000, "max_points": 50_000}


def decoder() -> WriteDecoder:
    return WriteDecoder(PointValidator(**LIMITS))


def body(points: Sequence[object]) -> bytes:
    return msgspec.json.encode({"metrics": points})


def point(rng: random.Random, i: int) -> dict[str, object]:
    p: dict[str, object] = {
        "name": "api_latency",
        "timestamp": NOW - i,
        "value": float(i),
        "dimensions": {"customer_id": f"c{i % 97}", "endpoint": f"/e{i % 7}"},
    }
    roll = rng.random()
    if roll < 0.02:
        p["name"] = "1bad"
    elif roll < 0.04:
        p["timestamp"] = NOW - 30 * 86_400_000
    elif roll < 0.05:
        p["dimensions"] = {f"k{j}": "v" for j in range(25)}
    elif roll < 0.06:
        p["value"] = "text"
    return p


@pytest.mark.parametrize("seed", range(8))
def test_chunked_decoding_gives_every_point_the_verdict_it_gets_alone(seed: int) -> None:
    rng = random.Random(seed)
    points = [point(rng, i) for i in range(rng.randint(2500, 6000))]
    raw = body(points)
    assert len(raw) > WHOLE_BODY_BYTES
    out = decoder().decode(raw, "t", NOW)
    # The reference: each point decoded alone, in a body far below the chunking threshold.
    accepted, refused = [], []
    for i, p in enumerate(points):
        alone = decoder().decode(body([p]), "t", NOW)
        if alone.points:
            accepted.append(i)
        else:
            refused.append((i, alone.rejected[0].error.code))
    assert [(r.index, r.error.code) for r in out.rejected] == refused
    assert (out.indices if out.indices is not None else list(range(len(out.points)))) == accepted
    assert out.points.timestamps == [points[i]["timestamp"] for i in accepted]
    assert out.rejected_count == len(refused)


def test_a_clean_large_body_keeps_the_fast_path() -> None:
    rng = random.Random(1)
    points = [{**point(rng, i), "name": "api_latency"} for i in range(5000)]
    for p in points:
        p["timestamp"], p["value"] = NOW, 1.0
        p["dimensions"] = {"customer_id": "c"}
    d = decoder()
    d.decode(body(points[:1]), "t", NOW)  # names and keys known
    out = d.decode(body(points), "t", NOW)
    assert out.indices is None and len(out.points) == 5000 and out.rejected == []


def huge_dimensions(n: int = 1_000_000) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(n)}


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({}, PointErrorCode.TOO_MANY_DIMENSIONS),
        ({"name": "1bad"}, PointErrorCode.INVALID_METRIC_NAME),
        ({"timestamp": NOW - 30 * 86_400_000}, PointErrorCode.TIMESTAMP_TOO_OLD),
        ({"timestamp": "yesterday"}, PointErrorCode.INVALID_TIMESTAMP),
        ({"value": "NaN-ish"}, PointErrorCode.INVALID_POINT),
        ({"extra": 1}, PointErrorCode.INVALID_POINT),
    ],
)
def test_an_oversized_point_is_judged_without_building_its_dimensions(
    monkeypatch: pytest.MonkeyPatch, override: dict[str, object], code: PointErrorCode
) -> None:
    built: list[int] = []
    real = write._dimensions

    class Spy:
        def decode(self, data: bytes) -> dict[str, str]:
            built.append(len(data))
            return real.decode(data)

    monkeypatch.setattr(write, "_dimensions", Spy())
    neighbour = {"name": "ok", "timestamp": NOW, "value": 1.0}
    hostile = {"name": "m", "timestamp": NOW, "value": 1.0, "dimensions": huge_dimensions()}
    hostile.update(override)
    raw = body([neighbour, hostile, neighbour])
    out = decoder().decode(raw, "t", NOW)
    assert [(r.index, r.error.code) for r in out.rejected] == [(1, code)]
    assert out.indices == [0, 2] and len(out.points) == 2
    assert built == []  # the million-entry object was never decoded


def test_an_oversized_point_with_few_but_huge_dimensions_is_decoded_and_refused() -> None:
    hostile = {"name": "m", "timestamp": NOW, "value": 1.0, "dimensions": {"host": "x" * 100_000}}
    raw = body([hostile])
    assert len(raw) > MAX_POINT_BYTES
    out = decoder().decode(raw, "t", NOW)
    assert [r.error.code for r in out.rejected] == [PointErrorCode.INVALID_DIMENSION_VALUE]


def test_an_oversized_value_literal_is_still_infinite() -> None:
    raw = b'{"metrics":[{"name":"m","timestamp":%d,"value":%s}]}' % (NOW, b"9" * 100_000)
    out = decoder().decode(raw, "t", NOW)
    assert [r.error.code for r in out.rejected] == [PointErrorCode.NON_FINITE_VALUE]


@pytest.mark.parametrize(
    "dims",
    [
        [{"b": "1", "a": "2"}, {"a": "3", "b": "4"}],  # the same keys in other orders
        [{"a": "1", "b": "2"}, {"a": "3", "c": "4"}],  # as many keys, not the same ones
        [{"a": "1"}, {"a": "2", "b": "3"}],  # different counts
        [{"only": "1"}, {"only": "2"}],  # one key
        [{}, {}],
        [{"a": "1"}, {}],
    ],
)
@pytest.mark.parametrize("copies", [1, 2000])  # one typed call, and chunks
def test_each_point_keeps_its_own_dimensions_whatever_keys_its_neighbours_have(
    dims: list[dict[str, str]], copies: int
) -> None:
    points = [{"name": "m", "timestamp": NOW, "value": 1.0, "dimensions": d} for d in dims * copies]
    d = decoder()
    d.decode(body(points[:2]), "t", NOW)  # names and keys known: the fast path
    out = d.decode(body(points), "t", NOW)
    assert out.rejected == []
    pairs = zip(out.points.keys, out.points.dim_values, strict=True)
    got = [dict(zip(k, v, strict=True)) for k, v in pairs]
    assert got == [p["dimensions"] for p in points]
