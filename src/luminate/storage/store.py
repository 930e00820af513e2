"""`Storage`: every operation Luminate performs on stored points, tenant first, over one `Engine`.

It owns the SQL (compiled by `compile.py` and `schema.py`); callers pass model objects and get
model objects back. No SQL string crosses this boundary in either direction. The work is done by
one class per noun: `Migrations` (schema lifecycle), `writes.write` (inserts with retry),
`Reads` (queries and discovery) and `Admin` (retention and deletions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from luminate.model.catalog import (
    Cardinality,
    DimensionKey,
    DimensionValue,
    MetricSummary,
    RetentionPolicy,
)
from luminate.model.points import TenantPoints
from luminate.model.query import Query, QueryResult, TimeRange
from luminate.storage import schema, writes
from luminate.storage.admin import Admin
from luminate.storage.compile import Layout
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError
from luminate.storage.journal import Journal
from luminate.storage.legacy import LegacyCopy, LegacyReads, LegacyState
from luminate.storage.membership import Members
from luminate.storage.migrations import Migrations
from luminate.storage.promotion import MAX_PROMOTED, Promotions
from luminate.storage.reads import Reads
from luminate.storage.series_state import SeriesStates
from luminate.storage.sql import Table


class Storage:
    def __init__(
        self,
        engine: Engine,
        layout: Layout,
        *,
        fsync: bool = True,
        topology: schema.Topology | None = None,
        journal: Journal | None = None,
        max_promoted: int = MAX_PROMOTED,
    ) -> None:
        self.journal = journal
        self.fsync = fsync
        self.topology = topology or schema.Topology()
        self.caps = schema.check_supported(schema.parse_version(engine.version()))
        self.promotions = Promotions(engine, self.caps, self.topology, max_promoted=max_promoted)
        self.legacy = LegacyState()
        # Reads see the previous layout's rows too while they are being copied.
        self.engine: Engine = LegacyReads(engine, self.legacy, self._layout)
        self._migrations = Migrations(
            engine, self.caps, self.topology, layout.promoted, self.promotions, self.legacy
        )
        self._reads = Reads(self.engine, self._layout)
        self._admin = Admin(self.engine, self._reads, self.topology, self.legacy)
        self._copy = LegacyCopy(engine, self.topology, self.legacy, self._layout)
        # Coordination between the processes sharing this storage (no tenant points).
        self.members = Members(engine, self.topology)
        self.series_states = SeriesStates(engine, self.topology)

    def _layout(self) -> Layout:
        return self.promotions.layout

    @property
    def layout(self) -> Layout:
        """The current layout: which dimension keys have their own column."""
        return self.promotions.layout

    @property
    def backend(self) -> str:
        return self.engine.name

    def migrate(self) -> list[str]:
        """Apply every idempotent schema step; returns the statements run. Rows of a previous
        layout are copied afterwards by `copy_previous_layout`."""
        return self._migrations.migrate(fsync=self.fsync, journaled=self.journal is not None)

    def recover(self) -> int:
        """Remove the rows of inserts a crash cut short (never acknowledged), before serving.
        Returns how many such inserts there were. Needs the migrated schema."""
        if self.journal is None:
            return 0
        unfinished = sorted(self.journal.unfinished())
        # An insert cut short before an upgrade to the current layout sits in the previous
        # layout's table, still to be copied.
        tables = [Table.SAMPLES]
        if self.legacy.active and writes.BATCH_COLUMN in self.legacy.columns:
            tables.append(Table.LEGACY)
        if unfinished and not writes.roll_back(self.engine, self.journal, unfinished, tables):
            raise StorageError("could not remove the rows of inserts cut short by a crash")
        self.journal.reset()
        return len(unfinished)

    @property
    def migrating(self) -> bool:
        """Whether rows of the previous layout are still to be copied."""
        return self.legacy.active

    def copy_previous_layout(self, progress: Callable[[str], None] | None = None) -> int:
        """Copy the previous layout's rows into the current table, then drop the previous one
        (online: reads and writes go on meanwhile). Returns the rows copied."""
        if progress is not None:
            copy = LegacyCopy(self.engine, self.topology, self.legacy, self._layout, progress)
            return copy.run()
        return self._copy.run()

    def stop_copying(self) -> None:
        """Make a running `copy_previous_layout` return after the day it is copying."""
        self._copy.stopping.set()

    def verify_schema(self) -> None:
        """Raise StorageError naming what is missing unless the tables and the cluster exist."""
        self._migrations.verify()

    def ping(self) -> None:
        self.engine.ping()

    def close(self) -> None:
        self.engine.close()
        if self.journal is not None:
            self.journal.close()

    def write(self, batches: Sequence[TenantPoints]) -> int:
        """Store every point of every batch in one insert, or raise. Returns points written."""
        return writes.write(self.engine, self.promotions, batches, self.journal)

    def query(self, tenant: str, q: Query) -> QueryResult:
        return self._reads.query(tenant, q)

    def metrics(
        self, tenant: str, window: TimeRange | None, limit: int
    ) -> tuple[list[MetricSummary], bool]:
        return self._reads.metrics(tenant, window, limit)

    def dimension_keys(
        self, tenant: str, metric: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionKey], bool]:
        return self._reads.dimension_keys(tenant, metric, window, limit)

    def dimension_values(
        self, tenant: str, metric: str, key: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionValue], bool]:
        return self._reads.dimension_values(tenant, metric, key, window, limit)

    def cardinality(self, tenant: str, window: TimeRange | None, top: int) -> Cardinality:
        return self._reads.cardinality(tenant, window, top)

    def delete_before(
        self, tenant: str, metric: str | None, before_ms: int, exclude: Sequence[str] = ()
    ) -> None:
        self._admin.delete_before(tenant, metric, before_ms, exclude)

    def set_retention(self, tenant: str, metric: str | None, days: int) -> None:
        self._admin.set_retention(tenant, metric, days)

    def retention_policies(self, tenant: str) -> list[RetentionPolicy]:
        return self._admin.retention_policies(tenant)

    def tenants_with_retention(self) -> list[str]:
        return self._admin.tenants_with_retention()
