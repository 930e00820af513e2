from __future__ import annotations

import re
from pathlib import Path

import pytest

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.storage import schema
from luminate.storage.compile import Layout, compile_query
from luminate.storage.errors import TenantScopeViolation
from luminate.storage.sql import (
    Statement,
    SystemStatement,
    Table,
    check_tenant_scoped,
    ident,
    quote,
)

ALL_QUERIES = [
    Query(QueryType.RANGE, "m", TimeRange(0, 10), filters=(("k", "v"),)),
    *[
        Query(
            QueryType.AGGREGATE,
            "m",
            TimeRange(0, 10),
            aggregation=a,
            group_by=("a", "b"),
            interval_ms=5,
        )
        for a in Aggregation
    ],
    Query(QueryType.RATE, "m", TimeRange(0, 10), interval_ms=5, group_by=("a",)),
]


@pytest.mark.parametrize("q", ALL_QUERIES, ids=lambda q: f"{q.type}-{q.aggregation}")
@pytest.mark.parametrize(
    "layout", [Layout(), Layout(frozenset({"a", "k"}))], ids=["arrays", "promoted"]
)
def test_every_compiled_statement_carries_the_tenant(q: Query, layout: Layout) -> None:
    stmt = compile_query("acme", q, layout)
    scans = re.findall(r"FROM samples WHERE tenant_id = 'acme'", stmt.sql)
    assert len(scans) == stmt.sql.count("FROM samples") >= 1


@pytest.mark.parametrize("q", ALL_QUERIES, ids=lambda q: f"{q.type}-{q.aggregation}")
def test_compiled_sql_uses_only_the_portable_dialect(q: Query) -> None:
    sql = compile_query("acme", q, Layout()).sql
    for construct in [
        r"\btoStartOfInterval\(",
        r"\bMap\(",
        r"\bOVER\b",
        r"DateTime64",
        r"\bmapKeys\(",
        r"\barrayFold\(",
        r"\bSETTINGS\b",
        r"\bQUALIFY\b",
        r"\blagInFrame\(",
    ]:
        assert re.search(construct, sql) is None, construct


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM samples",
        "SELECT count() FROM samples WHERE tenant_id = 'other'",
        "SELECT count() FROM samples WHERE x = 1 AND tenant_id = 'acme'",
        "SELECT * FROM (SELECT 1 FROM samples WHERE tenant_id = 'acme') JOIN samples USING x",
        "ALTER TABLE samples DELETE WHERE metric_name = 'm'",
        "SELECT 1 FROM default.samples WHERE 1",
        "SELECT 1 FROM `samples` WHERE 1",
        "SELECT 1",
    ],
)
def test_failsafe_refuses_statements_without_the_tenant(sql: str) -> None:
    with pytest.raises(TenantScopeViolation):
        check_tenant_scoped(sql, "acme")
    with pytest.raises(TenantScopeViolation):
        Statement(sql, "acme")


def test_failsafe_accepts_scoped_statements_and_ignores_quoted_text() -> None:
    check_tenant_scoped(
        "SELECT 1 FROM samples WHERE tenant_id = 'acme' AND x = 'FROM samples'", "acme"
    )
    check_tenant_scoped(
        "ALTER TABLE samples ON CLUSTER c DELETE WHERE tenant_id = 'acme' AND y = 1", "acme"
    )
    with pytest.raises(TenantScopeViolation):
        check_tenant_scoped("SELECT 1 FROM samples WHERE tenant_id = 'acme'", "")


@pytest.mark.parametrize("value", ["plain", "it's", "back\\slash", "\\'", "nl\n", "nul\0", "✓"])
def test_quote_escapes(value: str) -> None:
    quoted = quote(value)
    assert quoted.startswith("'") and quoted.endswith("'")
    inner = quoted[1:-1]
    assert re.search(r"(?<!\\)'", inner.replace("\\\\", "")) is None


def test_ident_accepts_only_names() -> None:
    assert ident("dim__customer_id") == "`dim__customer_id`"
    with pytest.raises(ValueError, match="not an identifier"):
        ident("x`; DROP TABLE samples")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM samples_local",
        "SELECT count() FROM luminate.samples_local WHERE metric_name = 'm'",
        "SELECT 1 FROM retention_policies_local WHERE 1",
        "ALTER TABLE luminate.samples_local ON CLUSTER c DELETE WHERE metric_name = 'm'",
    ],
)
def test_failsafe_refuses_local_tables_without_the_tenant(sql: str) -> None:
    with pytest.raises(TenantScopeViolation):
        Statement(sql, "acme")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM samples",
        "SELECT * FROM luminate.samples_local WHERE tenant_id = 'acme'",
        "SELECT name FROM system.columns UNION ALL SELECT metric_name FROM samples",
        "ALTER TABLE samples_local DELETE WHERE 1",
        "ALTER TABLE samples_local FREEZE",
        "ALTER TABLE samples_local DROP PARTITION 20261125",
        "ALTER TABLE samples_local ADD COLUMN x String MATERIALIZED (SELECT 1)",
        "INSERT INTO samples SELECT * FROM samples",
        "CREATE TABLE stolen ENGINE = Memory AS SELECT * FROM samples",
        "SELECT DISTINCT metric_name FROM samples ORDER BY tenant_id",
    ],
)
def test_system_statements_never_read_or_change_tenant_rows(sql: str) -> None:
    with pytest.raises(TenantScopeViolation):
        SystemStatement(sql)


def test_system_statements_allow_schema_catalog_and_tenant_ids() -> None:
    caps = [schema.Capabilities((18, 16, 1)), schema.Capabilities((26, 9))]
    topologies = [schema.Topology(), schema.Topology("luminate", "luminate_cluster")]
    for c in caps:
        for topo in topologies:
            ddl = schema.base_migrations(c, topo, fsync=True)
            ddl += schema.add_promoted(
                c, topo, [schema.Promoted("customer_id")], ["customer_id", "region"]
            )
            ddl += schema.retire_previous_layout(topo) + schema.drop_previous_layout(topo)
            ddl.append(schema.existing_columns(topo))
            assert len(ddl) >= 6
            for sql in ddl:
                SystemStatement(sql)
    SystemStatement("SELECT version()")
    SystemStatement("SELECT count() FROM system.mutations WHERE table = 'samples_local'")
    ids = SystemStatement.tenant_ids(Table.RETENTION)
    assert ids.sql == "SELECT DISTINCT tenant_id FROM retention_policies ORDER BY tenant_id"


def test_unit_tests_cannot_reach_a_clickhouse_server() -> None:
    from luminate.storage.clickhouse import ClickHouseEngine
    from luminate.storage.errors import StorageError

    # The tripwire in tests/conftest.py answers before any socket is opened.
    with pytest.raises((RuntimeError, StorageError), match=r"without @pytest\.mark\.storage"):
        ClickHouseEngine([("127.0.0.1", 9)], database="d", user="u", password="")


def test_unit_tests_cannot_open_the_embedded_engine(tmp_path: Path) -> None:
    from luminate.storage.embedded import EmbeddedEngine
    from luminate.storage.errors import StorageError

    with pytest.raises((RuntimeError, StorageError), match=r"without @pytest\.mark\.storage"):
        EmbeddedEngine(str(tmp_path / "data"))


def test_only_the_backup_builds_maintenance_statements() -> None:
    """Statements over every tenant's rows are operator work: the backup package alone makes
    them (the journal's recovery has its own named SystemStatement)."""
    import ast

    src = Path(__file__).resolve().parents[2] / "src" / "luminate"
    makers = set()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == (
                "MaintenanceStatement"
            ):
                makers.add(str(path.relative_to(src)))
    assert makers == {"backup/maintenance.py"}
