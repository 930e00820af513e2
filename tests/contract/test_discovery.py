"""Discovery and cardinality on every backend."""

from __future__ import annotations

from luminate.model.query import TimeRange
from luminate.model.time import now_ms
from luminate.storage.store import Storage
from tests.contract import oracle

START = now_ms() - 7_200_000


def _load(storage: Storage, tenant: str) -> list[oracle.Point]:
    points = [
        oracle.Point("cpu", START + i * 1000, float(i), {"host": f"h{i % 4}", "dc": f"d{i % 2}"})
        for i in range(40)
    ] + [oracle.Point("mem", START + 3_600_000 + i, 1.0, {"host": f"h{i % 3}"}) for i in range(9)]
    storage.write([oracle.to_batch(tenant, points)])
    return points


def test_metrics_lists_names_with_counts_and_series(storage: Storage, tenant: str) -> None:
    _load(storage, tenant)
    rows, truncated = storage.metrics(tenant, None, 100)
    assert not truncated
    assert [(m.name, m.points, m.series) for m in rows] == [("cpu", 40, 4), ("mem", 9, 3)]
    assert rows[0].first_ms == START and rows[0].last_ms == START + 39_000

    later = TimeRange(START + 3_600_000, START + 7_200_000)
    assert [m.name for m in storage.metrics(tenant, later, 100)[0]] == ["mem"]
    limited, truncated = storage.metrics(tenant, None, 1)
    assert truncated and [m.name for m in limited] == ["cpu"]


def test_dimension_keys_and_values(storage: Storage, tenant: str) -> None:
    _load(storage, tenant)
    keys, _ = storage.dimension_keys(tenant, "cpu", None, 100)
    assert [(k.key, k.points, k.values) for k in keys] == [("dc", 40, 2), ("host", 40, 4)]
    values, truncated = storage.dimension_values(tenant, "cpu", "host", None, 100)
    assert not truncated
    assert sorted((v.value, v.points) for v in values) == [(f"h{i}", 10) for i in range(4)]
    top, truncated = storage.dimension_values(tenant, "mem", "host", None, 2)
    assert truncated and len(top) == 2
    assert storage.dimension_values(tenant, "cpu", "missing", None, 10)[0] == []
    assert storage.dimension_keys(tenant, "nope", None, 10)[0] == []


def test_cardinality(storage: Storage, tenant: str) -> None:
    _load(storage, tenant)
    c = storage.cardinality(tenant, None, 10)
    assert c.series == 7
    assert c.metrics == [("cpu", 4), ("mem", 3)]
    assert c.keys == [("host", 4), ("dc", 2)]
