"""SQL text primitives shared by every compiler: literal quoting, identifiers, the tenant-scoped
table reference, and the two statement types engines accept.

The tenant failsafe is structural: an engine runs only a `Statement` (bound to one tenant, refused
at construction without `WHERE tenant_id = '<tenant>'` after every tenant table it names) or a
`SystemStatement` (schema DDL, catalog reads and the cross-tenant maintenance read of tenant ids,
refused at construction if it could read any tenant's data). No raw SQL string reaches an
engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from luminate.storage.errors import TenantScopeViolation

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
_ESCAPE_RE = re.compile(r"[\\'\n\r\t\0]")


class Table(StrEnum):
    """Tables holding tenant data. Every read or mutation of them must carry the tenant."""

    SAMPLES = "samples"
    RETENTION = "retention_policies"
    SAMPLES_LOCAL = "samples_local"
    RETENTION_LOCAL = "retention_policies_local"
    # The previous layout's table while its rows are copied to `samples` (storage/legacy.py).
    LEGACY = "samples_legacy"
    LEGACY_LOCAL = "samples_legacy_local"


class SystemTable(StrEnum):
    """Tables the processes sharing a storage coordinate through; they hold no points, and the
    limiter reads them across tenants (`storage/membership.py`, `storage/series_state.py`)."""

    MEMBERS = "limit_members"
    SERIES_STATE = "series_state"


def quote(value: str) -> str:
    """A ClickHouse string literal that reads back as exactly `value`."""
    return "'" + _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], value) + "'"


def ident(name: str) -> str:
    """A backquoted identifier; only names matching IDENTIFIER are ever emitted."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not an identifier: {name!r}")
    return f"`{name}`"


def tenant_predicate(tenant: str) -> str:
    return f"tenant_id = {quote(tenant)}"


def scan(table: Table, tenant: str, conditions: list[str] | None = None) -> str:
    """`FROM <table> WHERE tenant_id = '<tenant>' AND ...`: the only way compilers name a table."""
    where = " AND ".join([tenant_predicate(tenant), *(conditions or [])])
    return f"FROM {table.value} WHERE {where}"


SettingValue = int | float | str


@dataclass(frozen=True)
class Statement:
    """A compiled statement bound to one tenant. Construction runs the tenant failsafe."""

    sql: str
    tenant: str
    settings: dict[str, SettingValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_tenant_scoped(self.sql, self.tenant)


@dataclass(frozen=True)
class SystemStatement:
    """A statement that reads no tenant's points: schema DDL, catalog reads (`system.*`,
    `version()`), and `tenant_ids` below. Construction refuses anything else that names a
    tenant table."""

    sql: str
    settings: dict[str, SettingValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_system(self.sql)

    @classmethod
    def tenant_ids(cls, table: Table) -> SystemStatement:
        """The distinct tenants of a tenant table (maintenance: which tenants have policies)."""
        return cls(f"SELECT DISTINCT tenant_id FROM {table.value} ORDER BY tenant_id")

    @classmethod
    def roll_back(cls, table: Table, column: str, batches: list[int]) -> SystemStatement:
        """Delete the rows of unacknowledged inserts, whatever tenants they hold (recovery)."""
        ids = ", ".join(str(int(b)) for b in batches)
        return cls(f"ALTER TABLE {table.value} DELETE WHERE {ident(column)} IN ({ids})")


_TABLE_REF = re.compile(
    r"\b(?:FROM|JOIN|TABLE)\s+(?:`?[A-Za-z_][A-Za-z0-9_]*`?\.)?`?("
    + "|".join(t.value for t in Table)
    + r")`?(?![A-Za-z0-9_])",
    re.IGNORECASE,
)


_LITERAL = re.compile(r"'(?:\\.|[^'\\])*'")


def check_tenant_scoped(sql: str, tenant: str) -> None:
    """Refuse SQL that touches a tenant table without `WHERE tenant_id = '<tenant>'` right after
    the table reference (or `DELETE WHERE` for mutations). A failsafe, not a convention: it
    catches a compiler bug before the statement reaches storage."""
    if not tenant:
        raise TenantScopeViolation("statement has no tenant")
    expected = "WHERE " + tenant_predicate(tenant)
    literals = [m.span() for m in _LITERAL.finditer(sql)]
    found = False
    for match in _TABLE_REF.finditer(sql):
        if any(start <= match.start() < end for start, end in literals):
            continue  # a table name inside a quoted value is data, not a reference
        found = True
        rest = sql[match.end() :].lstrip(" `")
        rest = re.sub(r"^ON\s+CLUSTER\s+\S+\s+", "", rest, flags=re.IGNORECASE)
        rest = re.sub(r"^DELETE\s+(?=WHERE)", "", rest, flags=re.IGNORECASE)
        if not rest.startswith(expected):
            raise TenantScopeViolation(
                f"statement reads {match.group(1)} without the tenant predicate for {tenant!r}"
            )
    if not found:
        raise TenantScopeViolation("statement names no tenant table")


@dataclass(frozen=True)
class MaintenanceStatement:
    """Operator work over every tenant's rows at once: backups, restores and their checks. Never
    built from a request; `purpose` names the operation (logs, errors). Only `luminate.backup`
    makes these; a test keeps it so."""

    sql: str
    purpose: str
    settings: dict[str, SettingValue] = field(default_factory=dict)


# What an engine runs: one of the three checked statement types, never a plain string.
AnyStatement = Statement | SystemStatement | MaintenanceStatement


_DDL = re.compile(r"\s*(CREATE|DROP|ALTER|RENAME)\s+(TABLE|DATABASE)\b", re.IGNORECASE)
_DDL_ACTION = re.compile(r"\b(ADD\s+COLUMN|MODIFY\s+SETTING|MODIFY\s+COLUMN)\b", re.IGNORECASE)
_READS_OR_CHANGES_ROWS = re.compile(
    r"\b(SELECT|DELETE|UPDATE|INSERT|FREEZE|ATTACH|DETACH|FETCH|MOVE|REPLACE)\b", re.IGNORECASE
)
_TENANT_TABLE_NAME = re.compile(
    r"(?<![A-Za-z0-9_])(" + "|".join(t.value for t in Table) + r")(?![A-Za-z0-9_])"
)
_TENANT_IDS = re.compile(r"SELECT DISTINCT tenant_id FROM (\w+) ORDER BY tenant_id")
# Deleting whole unacknowledged inserts by their batch ids: recovery, never a tenant's request.
_ROLL_BACK = re.compile(r"ALTER TABLE (\w+) DELETE WHERE `batch_id` IN \([0-9]+(?:, [0-9]+)*\)")
# Moving the previous layout's rows into the current table (storage/legacy.py): row by row, each
# keeps its own tenant_id, one day partition at a time; counts and the removal of a partial copy.
_DB = r"(?:`\w+`\.)?"
_DAY = r"toYYYYMMDD\(toDateTime\(intDiv\(timestamp_ms, 1000\), 'UTC'\)\) = \d{8}"
_CLUSTER = r"(?: ON CLUSTER `\w+`)?"
_LAYOUT_MOVES = [
    re.compile(
        rf"INSERT INTO {_DB}samples(?:_local)? \(tenant_id, [\w`, ]+\) "
        rf"SELECT tenant_id, .+ FROM {_DB}samples_legacy(?:_local)? WHERE {_DAY}",
        re.DOTALL,
    ),
    re.compile(rf"SELECT count\(\) FROM {_DB}samples(?:_legacy)?(?:_local)? WHERE {_DAY}"),
    re.compile(rf"SELECT count\(\) FROM {_DB}samples(?:_local)? WHERE migrated = 1 AND {_DAY}"),
    re.compile(
        rf"ALTER TABLE {_DB}samples(?:_local)?{_CLUSTER} DELETE WHERE migrated = 1 AND {_DAY}"
    ),
    re.compile(rf"SELECT DISTINCT arrayJoin\(dim_keys\) FROM {_DB}samples_legacy LIMIT \d+"),
]


def _unquoted(sql: str) -> str:
    return _LITERAL.sub("''", sql)


def check_system(sql: str) -> None:
    """Refuse a system statement that could read or change a tenant's rows. Allowed: statements
    naming no tenant table; CREATE/DROP of tables and databases and ALTER TABLE ... ADD COLUMN /
    MODIFY SETTING (no SELECT, DELETE, partition moves or other row work); and the distinct
    tenant ids of a tenant table; and the statements that move rows from the previous layout's
    table to the current one, each row keeping its tenant."""
    text = _unquoted(sql)
    if _TENANT_IDS.fullmatch(sql.strip()) or _ROLL_BACK.fullmatch(sql.strip()):
        return
    if any(p.fullmatch(sql.strip()) for p in _LAYOUT_MOVES):
        return
    if not _TENANT_TABLE_NAME.search(text):
        return
    ddl = _DDL.match(text)
    if ddl is None:
        raise TenantScopeViolation(f"system statement reads a tenant table: {sql[:120]}")
    if _READS_OR_CHANGES_ROWS.search(text):
        raise TenantScopeViolation(
            f"schema statement on a tenant table may not read or change rows: {sql[:120]}"
        )
    if ddl.group(1).upper() == "ALTER" and not _DDL_ACTION.search(text):
        raise TenantScopeViolation(f"schema change not allowed on a tenant table: {sql[:120]}")
