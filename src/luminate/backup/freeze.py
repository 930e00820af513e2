"""Backups of ClickHouse servers without a BACKUP statement (Debian's 18.16, the test cluster):
one replica per shard is frozen on its own host by the agent beside it, which uploads the parts
with the table definitions; the manifest, written last by this coordinator, lists every object
with its SHA-256.

Restore and verify go through the same agents: each chosen replica downloads its shard's parts
into a staging database (`detached/` + ATTACH), the staged copy is compared with the manifest,
and only when every shard matches are the parts attached to the live tables (ATTACH PARTITION);
the other replicas of each shard catch up by replication, which is checked too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from luminate.backup import builtin, maintenance, promoted
from luminate.backup.embedded import check_schema
from luminate.backup.errors import BackupError, TargetNotEmpty, UsageError, VerificationFailed
from luminate.backup.fingerprint import differences
from luminate.backup.manifest import Manifest, PartitionSum, StoredObject, Strategy, TableDef
from luminate.backup.objects import ObjectStore
from luminate.backup.progress import Progress
from luminate.backup.remote import Remote
from luminate.backup.tokens import read_token
from luminate.settings import Settings
from luminate.storage.sql import Table, quote
from luminate.storage.store import Storage

JOBS = "/v1/jobs"
_CATCH_UP_S = 120.0


@dataclass(frozen=True)
class Replica:
    remote: Remote
    shard: int
    name: str
    rows: dict[str, int]


@dataclass
class FreezeBackend:
    storage: Storage
    store: ObjectStore
    replicas: list[Replica]
    timeout_s: float
    name: str = "clickhouse"
    strategy: Strategy = Strategy.FREEZE
    unreachable: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls, settings: Settings, store: ObjectStore, storage: Storage
    ) -> FreezeBackend:
        if not settings.backup_agent_urls:
            raise UsageError(
                f"ClickHouse {'.'.join(map(str, storage.caps.version))} has no BACKUP statement: "
                "set LUMINATE_BACKUP_AGENT_URLS to the backup agents beside the servers"
            )
        token = read_token(settings.backup_token_file)
        tables = ",".join(_tables(storage))
        replicas = []
        unreachable = []
        for url in settings.backup_agent_urls:
            remote = Remote(url, token)
            try:
                found = remote.call(
                    "GET", f"/v1/identity?database={storage.topology.database}&tables={tables}"
                )
            except BackupError as exc:
                # Another replica of the same shard may serve; shards() says if none does.
                unreachable.append(str(exc))
                continue
            if not str(found.get("shard", "")).isdigit():
                raise BackupError(f"agent {url} reports no shard macro: {found}")
            replicas.append(
                Replica(remote, int(found["shard"]), str(found["replica"]), found["rows"])
            )
        if not replicas:
            raise BackupError(f"no backup agent answers: {'; '.join(unreachable)}")
        backend = cls(storage, store, replicas, float(settings.backup_timeout_seconds))
        backend.unreachable = unreachable
        return backend

    @property
    def database(self) -> str:
        return self.storage.topology.database or "default"

    @property
    def cluster(self) -> str:
        return self.storage.topology.cluster or ""

    def shards(self) -> dict[int, list[Replica]]:
        out: dict[int, list[Replica]] = {}
        for r in self.replicas:
            out.setdefault(r.shard, []).append(r)
        wanted = self._cluster_shards()
        missing = sorted(wanted - out.keys())
        if missing:
            why = f" ({'; '.join(self.unreachable)})" if self.unreachable else ""
            raise BackupError(f"no agent answers for shard(s) {missing} of the cluster{why}")
        return dict(sorted(out.items()))

    def _cluster_shards(self) -> set[int]:
        if not self.cluster:
            return {min(r.shard for r in self.replicas)}
        rows = maintenance.rows(
            self.storage.engine,
            f"SELECT DISTINCT shard_num FROM system.clusters WHERE cluster = {quote(self.cluster)}",
        )
        return {int(str(r[0])) for r in rows}

    def _job(self, replica: Replica, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        started = replica.remote.call("POST", JOBS, body)
        if not started.get("new", True):
            raise BackupError(f"agent {replica.remote.base_url} is busy with another job")
        return replica.remote.follow(JOBS, started["job"], progress, self.timeout_s)

    def capture(self, backup_id: str, progress: Progress) -> builtin.Captured:
        tables: list[TableDef] = []
        partitions: list[PartitionSum] = []
        objects: list[StoredObject] = []
        version = ""
        for shard, replicas in self.shards().items():
            chosen = replicas[0]
            progress.step(f"shard {shard}: freezing on {chosen.name} ({chosen.remote.base_url})")
            result = self._job(
                chosen,
                {
                    "op": "snapshot",
                    "backup_id": backup_id,
                    "database": self.database,
                    "tables": _tables(self.storage),
                    "shard": shard,
                },
                progress,
            )
            version = str(result["version"])
            tables = msgspec.convert(result["tables"], list[TableDef])
            partitions += msgspec.convert(result["partitions"], list[PartitionSum])
            objects += msgspec.convert(result["objects"], list[StoredObject])
        return builtin.Captured(
            server_version=version,
            tables=tables,
            partitions=partitions,
            size_bytes=sum(o.size for o in objects),
            rows=sum(p.rows for p in partitions),
            objects=objects,
        )

    def _prefix(self, manifest: Manifest, shard: int) -> str:
        return self.store.location.key(manifest.id, "shards", str(shard))

    def _stage(self, manifest: Manifest, progress: Progress) -> tuple[str, list[PartitionSum]]:
        """Stage every shard on its chosen replica; returns the staging database and sums."""
        stage = f"luminate_stage_{uuid.uuid4().hex[:12]}"
        found: list[PartitionSum] = []
        for shard, replicas in self.shards().items():
            prefix = self._prefix(manifest, shard)
            mine = [o for o in manifest.objects if o.key.startswith(prefix + "/")]
            progress.step(f"shard {shard}: staging {len(mine)} files on {replicas[0].name}")
            result = self._job(
                replicas[0],
                {
                    "op": "stage",
                    "database": self.database,
                    "stage": stage,
                    "shard": shard,
                    "definitions": msgspec.to_builtins(manifest.tables),
                    "objects": msgspec.to_builtins(mine),
                    "prefix": prefix,
                },
                progress,
            )
            found += msgspec.convert(result["partitions"], list[PartitionSum])
        return stage, found

    def _discard(self, stage: str, progress: Progress) -> None:
        for replicas in self.shards().values():
            try:
                self._job(
                    replicas[0],
                    {"op": "discard", "database": self.database, "stage": stage},
                    progress,
                )
            except BackupError as exc:
                progress.step(
                    f"warning: staging database {stage} left on {replicas[0].name}: {exc}"
                )

    def verify(self, manifest: Manifest, progress: Progress) -> list[PartitionSum]:
        stage, found = "", list[PartitionSum]()
        try:
            stage, found = self._stage(manifest, progress)
        finally:
            if stage:
                self._discard(stage, progress)
        return found

    def restore(self, manifest: Manifest, force: bool, progress: Progress) -> list[PartitionSum]:
        engine = self.storage.engine
        select, run = maintenance.selector(engine), maintenance.runner(engine)
        added = promoted.add_backup_columns(select, run, self.storage.topology, manifest)
        if added:
            progress.step(f"dimension columns added to the live tables: {', '.join(added)}")
            self.storage.promotions.load()
        check_schema(maintenance.selector(engine), self.database, manifest)
        if not force:
            full = [
                f"{t} on {r.name} ({n} rows)" for r in self.replicas for t, n in r.rows.items() if n
            ]
            if full:
                raise TargetNotEmpty(
                    f"refusing to restore over non-empty tables: {', '.join(full)}; "
                    "pass --force to replace their contents with the backup"
                )
        stage = ""
        try:
            stage, staged = self._stage(manifest, progress)
            problems = differences(manifest.partitions, staged)
            if problems:
                raise VerificationFailed(
                    f"backup {manifest.id} does not match its manifest; live data untouched: "
                    + "; ".join(problems[:5])
                )
            for shard, replicas in self.shards().items():
                progress.step(f"shard {shard}: attaching to the live tables on {replicas[0].name}")
                self._job(
                    replicas[0],
                    {
                        "op": "promote",
                        "database": self.database,
                        "stage": stage,
                        "shard": shard,
                        "definitions": msgspec.to_builtins(manifest.tables),
                        "force": force,
                    },
                    progress,
                )
        finally:
            if stage:
                self._discard(stage, progress)
        return self._caught_up(manifest, progress)

    def _caught_up(self, manifest: Manifest, progress: Progress) -> list[PartitionSum]:
        """The chosen replicas' sums, once every other replica of each shard has the same."""
        out: list[PartitionSum] = []
        for shard, replicas in self.shards().items():
            want = self._sums(replicas[0], manifest.tables, shard, progress)
            for other in replicas[1:]:
                progress.step(f"shard {shard}: waiting for {other.name} to replicate")
                deadline = time.monotonic() + _CATCH_UP_S
                while differences(want, self._sums(other, manifest.tables, shard, progress)):
                    if time.monotonic() > deadline:
                        raise BackupError(
                            f"{other.name} did not catch up with {replicas[0].name} within "
                            f"{_CATCH_UP_S:g} s; check its replication queue"
                        )
                    time.sleep(0.5)
            out += want
        return out

    def _sums(
        self, replica: Replica, tables: Sequence[TableDef], shard: int, progress: Progress
    ) -> list[PartitionSum]:
        result = self._job(
            replica,
            {
                "op": "sums",
                "database": self.database,
                "shard": shard,
                "definitions": msgspec.to_builtins(tables),
            },
            progress,
        )
        return msgspec.convert(result["partitions"], list[PartitionSum])

    def close(self) -> None:
        self.storage.close()


def _tables(storage: Storage) -> list[str]:
    return [storage.topology.storage_table(t) for t in (Table.SAMPLES, Table.RETENTION)]
