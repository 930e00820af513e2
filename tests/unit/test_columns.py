from __future__ import annotations

from luminate.model.points import TenantPoints
from luminate.storage import columns
from luminate.storage.engine import Runs


def _batch(tenant: str, rows: list[tuple[str, dict[str, str]]]) -> TenantPoints:
    b = TenantPoints(tenant)
    for i, (name, dims) in enumerate(rows):
        b.names.append(name)
        b.timestamps.append(1000 + i)
        b.values.append(float(i))
        b.keys.append(list(dims))
        b.dim_values.append(list(dims.values()))
    return b


def _as_rows(insert: columns.InsertColumns) -> list[dict[str, object]]:
    cols = [c.expand() if isinstance(c, Runs) else c for c in insert.data]
    rows = [dict(zip(insert.names, r, strict=True)) for r in zip(*cols, strict=True)]
    return sorted(rows, key=lambda r: (str(r["tenant_id"]), int(str(r["timestamp_ms"]))))


def test_promoted_keys_go_to_columns_the_rest_to_arrays_and_the_lead_is_filled() -> None:
    a = _batch("t1", [("m", {"c": "c1", "x": "x1"}), ("m", {"x": "x2", "c": "c2"})])
    b = _batch("t2", [("n", {"c": "c3"})])
    groups = [columns.groups(a), columns.groups(b)]
    assert len(groups[0]) == 2  # same metric, keys in two orders
    insert = columns.build([a, b], groups, frozenset({"c"}), {"t1\0m": "c", "t2\0n": "x"})
    rows = _as_rows(insert)
    assert [r["dim__c"] for r in rows] == ["c1", "c2", "c3"]
    assert [r["extra_keys"] for r in rows] == [["x"], ["x"], []]
    assert [r["extra_values"] for r in rows] == [["x1"], ["x2"], []]
    # A lead key a point does not carry leaves it without a lead.
    assert [(r["lead_key"], r["lead"]) for r in rows] == [("c", "c1"), ("c", "c2"), ("", "")]
    assert [r["tenant_id"] for r in rows] == ["t1", "t1", "t2"]
    assert [r["timestamp_ms"] for r in rows] == [1000, 1001, 1000]


def test_without_unpromoted_keys_no_arrays_are_sent() -> None:
    a = _batch("t", [("m", {"c": "1"}), ("m", {"c": "2"})])
    insert = columns.build([a], [columns.groups(a)], frozenset({"c"}), {})
    assert "extra_keys" not in insert.names
    assert insert.rows == 2


def test_interleaved_metrics_make_runs_that_repeat_values() -> None:
    a = _batch("t", [("m", {"c": "1"}), ("n", {"c": "2", "d": "x"}), ("m", {"c": "3"})])
    b = _batch("t", [("m", {"c": "4"})])
    insert = columns.build([a, b], [columns.groups(a), columns.groups(b)], frozenset({"c"}), {})
    metrics = insert.data[1]
    assert isinstance(metrics, Runs)
    assert metrics.values == ["m", "n", "m"]  # m comes back after n: a repeated run
    rows = _as_rows(insert)
    assert sorted((r["metric_name"], r["dim__c"]) for r in rows) == [
        ("m", "1"),
        ("m", "3"),
        ("m", "4"),
        ("n", "2"),
    ]
    assert [r["extra_keys"] for r in rows if r["metric_name"] == "n"] == [["d"]]
