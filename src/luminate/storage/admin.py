"""Administration of stored points: retention policies and deletions (mutations)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from luminate.model.catalog import RetentionPolicy
from luminate.model.time import now_ms
from luminate.storage.compile import compile_delete_before, compile_retention_policies
from luminate.storage.engine import Engine
from luminate.storage.legacy import LegacyState
from luminate.storage.mutations import wait_for_mutations
from luminate.storage.reads import Reads, as_int
from luminate.storage.schema import Topology
from luminate.storage.sql import SystemStatement, Table


class Admin:
    def __init__(
        self, engine: Engine, reads: Reads, topology: Topology, legacy: LegacyState
    ) -> None:
        self._engine = engine
        self._reads = reads
        self._topology = topology
        self._legacy = legacy

    def delete_before(
        self, tenant: str, metric: str | None, before_ms: int, exclude: Sequence[str] = ()
    ) -> None:
        """Delete the tenant's points older than `before_ms` (of one metric, or all but
        `exclude`). Returns once the engine has applied the deletion."""
        topo = self._topology
        tables = [Table.SAMPLES]
        if self._legacy.active:
            # Rows not yet copied from the previous layout are deleted there too.
            tables.append(Table.LEGACY)
        for table in tables:
            local = topo.storage_table(table)
            stmt = compile_delete_before(
                tenant, topo.name(local), topo.on_cluster(), metric, before_ms, exclude
            )
            self._engine.execute(stmt)
            wait_for_mutations(self._engine, topo.database, local, topo.cluster)

    def set_retention(self, tenant: str, metric: str | None, days: int) -> None:
        self._engine.insert(
            Table.RETENTION,
            ("tenant_id", "metric_name", "days", "updated_ms"),
            [[tenant], [metric or ""], [days], [now_ms()]],
            uuid.uuid4().hex,
        )

    def retention_policies(self, tenant: str) -> list[RetentionPolicy]:
        rows = self._reads.select(compile_retention_policies(tenant)).rows
        return [RetentionPolicy(tenant, str(r[0]) or None, as_int(r[1])) for r in rows]

    def tenants_with_retention(self) -> list[str]:
        """Maintenance only: which tenants have a retention policy (no data is read)."""
        rows = self._engine.select(SystemStatement.tenant_ids(Table.RETENTION)).rows
        return [str(r[0]) for r in rows]
