"""The ceiling: Debian's ClickHouse 18.16 with a table designed by hand for the benchmark's
queries, loaded with a columnar insert."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.generate import DataSet
from bench.peers.systems import HOST, RAW_TABLE, System, Target


class RawClickHouse(System):
    """Debian's ClickHouse 18.16 with a table designed by hand for these queries (a column per
    dimension, sorted by customer and time): the ceiling for a columnar insert and query."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "clickhouse")
        self.cluster: Any = None

    def start(self) -> None:
        from tests.clickhouse.harness import Cluster

        self.cluster = Cluster.start(self.workdir / "cluster", "single", 1)
        host = self.cluster.hosts[0]
        self.port = int(host.split(":")[1])
        self._execute(
            f"CREATE TABLE {RAW_TABLE} (customer_id String, endpoint String, region String, "
            "user_id String, timestamp_ms Int64, value Float64) ENGINE = MergeTree "
            "PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC')) "
            "ORDER BY (customer_id, timestamp_ms)"
        )

    def target(self) -> Target:
        return Target(
            "clickhouse", self.port, user=self.cluster.user, password=self.cluster.password
        )

    def _client(self) -> Any:
        from clickhouse_driver import Client

        return Client(HOST, port=self.port, user=self.cluster.user, password=self.cluster.password)

    def _execute(self, sql: str) -> list[Any]:
        c = self._client()
        try:
            rows: list[Any] = c.execute(sql)
        finally:
            c.disconnect()
        return rows

    def pid(self) -> int | None:
        """The server's PID, from the pid file the cluster harness records."""
        pid_file = self.workdir / "cluster" / "pids" / "clickhouse-0.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()

    def flush(self) -> None:
        time.sleep(5)

    def disk_bytes(self) -> int:
        rows = self._execute(
            f"SELECT sum(bytes_on_disk) FROM system.parts WHERE table = '{RAW_TABLE}' AND active"
        )
        return int(rows[0][0])

    def answer(self, query: str, data: DataSet, customer: str) -> dict[str, Any]:
        where = f"timestamp_ms >= {data.start_ms} AND timestamp_ms < {data.end_ms}"
        if query == "avg_by_customer":
            sql = (
                f"SELECT customer_id, avg(value) FROM {RAW_TABLE} WHERE {where} "
                "GROUP BY customer_id"
            )
        elif query == "p95_one_customer_by_endpoint":
            sql = (
                f"SELECT endpoint, quantileExact(0.95)(value) FROM {RAW_TABLE} WHERE {where} "
                f"AND customer_id = '{customer}' GROUP BY endpoint"
            )
        else:
            sql = (
                f"SELECT intDiv(timestamp_ms, 60000) * 60000 AS b, count() FROM {RAW_TABLE} "
                f"WHERE {where} AND customer_id = '{customer}' GROUP BY b"
            )
        return dict(self._query_client().execute(sql))

    def _query_client(self) -> Any:
        if not hasattr(self, "_qc"):
            self._qc = self._client()
        return self._qc
