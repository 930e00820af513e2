from __future__ import annotations

import random

import msgspec
import pytest

from luminate.http.codec.write import WriteBody, WriteDecoder
from luminate.ingest.validate import PointValidator
from luminate.model.errors import BadRequest, ErrorCode
from luminate.model.points import PointErrorCode, TenantPoints

NOW = 1_795_600_800_000
DAY = 86_400_000


def validator(**kw: int) -> WriteDecoder:
    opts = {"max_age_ms": 7 * DAY, "max_future_ms": 3_600_000, "max_points": 100}
    opts.update(kw)
    return WriteDecoder(PointValidator(**opts))


def body(*metrics: object) -> bytes:
    return msgspec.json.encode({"metrics": list(metrics)})


def by_point(points: TenantPoints) -> list[tuple[str, int, float, dict[str, str]]]:
    """Each point as it was written: keys and values may come in any matching order (the fast
    path sorts shared keys), so compare dimensions as mappings."""
    dims = [
        dict(zip(k, v, strict=True)) for k, v in zip(points.keys, points.dim_values, strict=True)
    ]
    return list(zip(points.names, points.timestamps, points.values, dims, strict=True))


def ok(**over: object) -> dict[str, object]:
    point: dict[str, object] = {
        "name": "m",
        "timestamp": NOW,
        "value": 1.5,
        "dimensions": {"b": "2", "a": "1"},
    }
    point.update(over)
    return point


def test_valid_points_keep_keys_and_values_aligned() -> None:
    out = validator().decode(body(ok(), ok(timestamp="2026-11-25T10:00:00Z", value=2)), "t", NOW)
    assert out.rejected == [] and len(out.points) == 2
    assert out.points.keys == [["b", "a"], ["b", "a"]]
    assert out.points.dim_values == [["2", "1"], ["2", "1"]]
    assert out.points.timestamps == [NOW, 1795600800000]
    assert out.points.values == [1.5, 2.0]
    assert out.points.tenant == "t"


@pytest.mark.parametrize(
    ("point", "code"),
    [
        (ok(name="bad name"), PointErrorCode.INVALID_METRIC_NAME),
        (ok(name="9lives"), PointErrorCode.INVALID_METRIC_NAME),
        (ok(name="x" * 257), PointErrorCode.INVALID_METRIC_NAME),
        (ok(dimensions={"bad-key": "v"}), PointErrorCode.INVALID_DIMENSION_KEY),
        (ok(dimensions={"k" * 129: "v"}), PointErrorCode.INVALID_DIMENSION_KEY),
        (ok(dimensions={"k": ""}), PointErrorCode.INVALID_DIMENSION_VALUE),
        (ok(dimensions={"k": "v" * 257}), PointErrorCode.INVALID_DIMENSION_VALUE),
        (ok(dimensions={f"k{i}": "v" for i in range(21)}), PointErrorCode.TOO_MANY_DIMENSIONS),
        (ok(timestamp=NOW - 8 * DAY), PointErrorCode.TIMESTAMP_TOO_OLD),
        (ok(timestamp=NOW + 2 * 3_600_000), PointErrorCode.TIMESTAMP_IN_FUTURE),
        (ok(timestamp="2026-11-25T10:00:00"), PointErrorCode.INVALID_TIMESTAMP),
        (ok(timestamp="soon"), PointErrorCode.INVALID_TIMESTAMP),
        (ok(timestamp=-5), PointErrorCode.TIMESTAMP_TOO_OLD),
        (ok(value="1.5"), PointErrorCode.INVALID_POINT),
        (ok(value=None), PointErrorCode.INVALID_POINT),
        (ok(extra=1), PointErrorCode.INVALID_POINT),
        ({"name": "m", "value": 1}, PointErrorCode.INVALID_POINT),
        (ok(dimensions={"k": 5}), PointErrorCode.INVALID_POINT),
        ("not an object", PointErrorCode.INVALID_POINT),
    ],
)
def test_each_rule_rejects_one_point_and_keeps_its_neighbours(
    point: object, code: PointErrorCode
) -> None:
    out = validator().decode(body(ok(), point, ok(value=3)), "t", NOW)
    assert [(e.index, e.error.code) for e in out.rejected] == [(1, code.value)]
    assert out.points.values == [1.5, 3.0]
    assert out.reasons == {code.value: 1}
    assert out.rejected[0].error.message


@pytest.mark.parametrize("literal", [b"1e999", b"-1e999"])
def test_values_beyond_float_range_are_non_finite(literal: bytes) -> None:
    good = msgspec.json.encode(ok())
    raw = (
        b'{"metrics": ['
        + good
        + b', {"name": "m", "timestamp": %d, "value": %s}]}' % (NOW, literal)
    )
    out = validator().decode(raw, "t", NOW)
    assert [(e.index, e.error.code) for e in out.rejected] == [(1, "non_finite_value")]
    assert len(out.points) == 1


def test_repeated_names_are_checked_every_time_they_are_new() -> None:
    v = validator()
    v.decode(body(ok(name="good")), "t", NOW)
    out = v.decode(body(ok(name="good"), ok(name="good!")), "t", NOW)
    assert [e.index for e in out.rejected] == [1]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{", ErrorCode.MALFORMED_JSON),
        (b"\xff\xfe", ErrorCode.MALFORMED_JSON),
        (b'{"metrics": [1]', ErrorCode.MALFORMED_JSON),
        (b"[]", ErrorCode.INVALID_BODY),
        (b'{"metrics": {}}', ErrorCode.INVALID_BODY),
        (b'{"metrics": [], "tenant_id": "x"}', ErrorCode.INVALID_BODY),
        (b"{}", ErrorCode.INVALID_BODY),
        (b'{"metrics": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", ErrorCode.INVALID_BODY),
    ],
)
def test_unusable_bodies_fail_as_a_whole(raw: bytes, code: ErrorCode) -> None:
    with pytest.raises(BadRequest) as info:
        validator().decode(raw, "t", NOW)
    assert info.value.code is code


def test_too_many_points() -> None:
    with pytest.raises(BadRequest) as info:
        validator(max_points=2).decode(body(ok(), ok(), ok()), "t", NOW)
    assert info.value.code is ErrorCode.TOO_MANY_POINTS


def test_reported_errors_are_capped_but_all_counted() -> None:
    bad = [ok(name="bad name")] * 1500
    out = validator(max_points=2000).decode(body(*bad), "t", NOW)
    assert out.rejected_count == 1500
    assert len(out.rejected) == 1000


VALID: dict[str, list[object]] = {
    "name": ["m", "cpu_total", "_x"],
    "timestamp": [NOW, NOW - DAY, NOW + 60_000],
    "value": [1.0, -3, 0, 1e300],
    "dimensions": [{"a": "1"}, {}, {"b": "x", "a": "y"}, {"k": "v" * 256}],
}
INVALID: dict[str, list[object]] = {
    "name": ["9bad", "bad name", "n" * 257],
    "timestamp": [NOW - 8 * DAY, NOW + 7_200_000, "2026-11-25T10:00:00", "soon", 1.5],
    "value": ["1", None],
    "dimensions": [
        {"bad-key": "v"},
        {"k": ""},
        {"k": "v" * 257},
        {f"k{i}": "v" for i in range(21)},
        {"k": 5},
        {"k" * 129: "v"},
    ],
}


def _random_point(rng: random.Random, p_invalid: float) -> object:
    point: dict[str, object] = {
        field: rng.choice((INVALID if rng.random() < p_invalid else VALID)[field])
        for field in VALID
    }
    if rng.random() < p_invalid / 4:
        point["extra"] = True
    if rng.random() < p_invalid / 4:
        del point["value"]
    return point


@pytest.mark.parametrize("seed", range(60))
def test_fast_and_per_point_paths_apply_the_same_rules(seed: int) -> None:
    rng = random.Random(seed)
    p_invalid = [0.0, 0.02, 0.3][seed % 3]
    raw = body(*(_random_point(rng, p_invalid) for _ in range(rng.randint(1, 30))))
    cold = validator().decode(raw, "t", NOW)  # empty caches: every point is checked on its own
    warm = validator()
    warm.decode(
        body(*(ok(name=n, dimensions={k: "v"}) for n in VALID["name"] for k in ("a", "b", "k"))),
        "t",
        NOW,
    )
    hot = warm.decode(raw, "t", NOW)  # warm caches: the fast path when nothing is wrong
    assert [(e.index, e.error.code) for e in hot.rejected] == [
        (e.index, e.error.code) for e in cold.rejected
    ]
    assert by_point(hot.points) == by_point(cold.points)
    if p_invalid == 0.0:
        assert cold.rejected == []


def test_the_fast_path_is_taken_once_names_are_known() -> None:
    v = validator()
    raw = body(ok(), ok(value=2))
    first = v.decode(raw, "t", NOW)
    assert v.validator.all_valid(msgspec.json.decode(raw, type=WriteBody).metrics, NOW)
    assert by_point(v.decode(raw, "t", NOW).points) == by_point(first.points)
