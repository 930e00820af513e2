"""Neither of two tenants can read the other's data through any storage operation."""

from __future__ import annotations

import pytest

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.model.time import now_ms
from luminate.storage.errors import TenantScopeViolation
from luminate.storage.sql import Statement
from luminate.storage.store import Storage
from tests.contract import oracle

START = now_ms() - 600_000
WINDOW = TimeRange(START, START + 600_000)


def test_two_tenants_never_see_each_other(storage: Storage, tenant: str, other_tenant: str) -> None:
    mine = [oracle.Point("shared", START + i, 1.0, {"k": "mine"}) for i in range(5)]
    mine.append(oracle.Point("only_mine", START, 1.0, {"mine_key": "x"}))
    theirs = [oracle.Point("shared", START + i, 100.0, {"k": "theirs"}) for i in range(7)]
    theirs.append(oracle.Point("only_theirs", START, 1.0, {"their_key": "y"}))
    storage.write([oracle.to_batch(tenant, mine), oracle.to_batch(other_tenant, theirs)])

    for who, expected_names, expected_sum, value in [
        (tenant, ["only_mine", "shared"], 5.0, "mine"),
        (other_tenant, ["only_theirs", "shared"], 700.0, "theirs"),
    ]:
        assert [m.name for m in storage.metrics(who, None, 100)[0]] == expected_names
        assert [v.value for v in storage.dimension_values(who, "shared", "k", None, 100)[0]] == [
            value
        ]
        assert [k.key for k in storage.dimension_keys(who, "shared", None, 100)[0]] == ["k"]
        q = Query(
            QueryType.AGGREGATE, "shared", WINDOW, aggregation=Aggregation.SUM, group_by=("k",)
        )
        rows = storage.query(who, q).rows
        assert [(r.group, r.value) for r in rows] == [((value,), expected_sum)]  # type: ignore[union-attr]
        points = storage.query(who, Query(QueryType.RANGE, "shared", WINDOW)).rows
        assert {p.dimensions["k"] for p in points} == {value}  # type: ignore[union-attr]
    assert storage.dimension_keys(tenant, "only_theirs", None, 10)[0] == []
    assert storage.cardinality(tenant, None, 10).series == 2


def test_statement_without_tenant_predicate_never_runs(storage: Storage, tenant: str) -> None:
    with pytest.raises(TenantScopeViolation):
        Statement("SELECT count() FROM samples", tenant)
    with pytest.raises(TenantScopeViolation):
        Statement(
            f"SELECT count() FROM samples WHERE tenant_id = 'x' OR tenant_id = '{tenant}'", tenant
        )
