from __future__ import annotations

import pytest

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.storage.compile import Layout, compile_query
from luminate.storage.errors import TenantScopeViolation
from luminate.storage.legacy import union_source
from luminate.storage.sql import Statement, SystemStatement

DAY = "toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC')) = 20261206"


def test_the_union_of_both_layouts_keeps_the_tenant_predicate_on_each_table() -> None:
    q = Query(
        QueryType.AGGREGATE,
        "m",
        TimeRange(0, 10),
        filters=(("customer_id", "c1"),),
        aggregation=Aggregation.COUNT,
    )
    layout = Layout(frozenset({"customer_id", "region"}))
    sql = compile_query("acme", q, layout).sql
    predicate = "tenant_id = 'acme'"
    source = union_source(predicate, layout, frozenset({"dim__customer_id"}))
    rewritten = sql.replace(f"FROM samples WHERE {predicate}", f"FROM {source} WHERE {predicate}")
    Statement(rewritten, "acme")  # the failsafe accepts it
    assert "FROM samples WHERE tenant_id = 'acme' AND migrated = 0" in rewritten
    assert "FROM samples_legacy WHERE tenant_id = 'acme'" in rewritten
    # The previous table's promoted column is read as it is; a key it lacks from the arrays.
    assert "`dim__customer_id` FROM samples_legacy" not in rewritten
    assert "indexOf(dim_keys, 'region')) AS `dim__region`" in rewritten
    with pytest.raises(TenantScopeViolation):
        Statement(
            rewritten.replace(
                "FROM samples_legacy WHERE tenant_id = 'acme'", "FROM samples_legacy WHERE 1"
            ),
            "acme",
        )


def test_moving_rows_between_layouts_is_allowed_only_in_its_exact_shapes() -> None:
    SystemStatement(
        f"INSERT INTO samples (tenant_id, metric_name, migrated) SELECT tenant_id, metric_name, 1 "
        f"FROM samples_legacy WHERE {DAY}"
    )
    SystemStatement(f"SELECT count() FROM samples WHERE migrated = 1 AND {DAY}")
    SystemStatement(f"ALTER TABLE samples DELETE WHERE migrated = 1 AND {DAY}")
    for forged in [
        # rows moved under another tenant
        f"INSERT INTO samples (tenant_id, metric_name) SELECT 'evil', metric_name "
        f"FROM samples_legacy WHERE {DAY}",
        # new rows copied back into the old table, or any table read whole
        f"INSERT INTO samples_legacy (tenant_id) SELECT tenant_id FROM samples WHERE {DAY}",
        "SELECT count() FROM samples",
        f"ALTER TABLE samples DELETE WHERE {DAY}",
        f"SELECT value FROM samples WHERE migrated = 1 AND {DAY}",
    ]:
        with pytest.raises(TenantScopeViolation):
            SystemStatement(forged)
