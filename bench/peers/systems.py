"""The systems compared, each started on loopback with its own data directory: how to start it,
send it points (from client processes: `Sender`) and ask it the three queries.

Queries ask for the data set's exact time span, so every system sees every point:
- `avg_by_customer`: the mean of every point, per customer;
- `p95_one_customer_by_endpoint`: the 95th percentile of one customer's points, per endpoint;
- `count_per_minute_one_customer`: one customer's points counted per minute.
PromQL has no percentile over the raw points of many series: VictoriaMetrics answers the p95 from
its log-bucketed `histogram_over_time` (an approximation), Prometheus as the p95 of each series'
p95 (also an approximation); both are checked against the oracle and the error reported."""

from __future__ import annotations

import http.client
import json
import os
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import METRIC, DataSet
from bench.peers import data as fmt
from bench.peers import remote_write
from bench.server import Server, disk_usage, settle
from testbed.net import free_port
from testbed.process import ManagedProcess
from tests.support.selfmetrics import sample

HOST = "127.0.0.1"
INFLUX_DB = "bench"
RAW_TABLE = "wide"


@dataclass(frozen=True)
class Target:
    """What a client process needs to send to a system (picklable)."""

    kind: str
    port: int
    token: str = ""
    user: str = "default"
    password: str = ""


def prepare(target: Target, data: DataSet, scenario: fmt.Scenario, batch: int, size: int) -> Any:
    cols = fmt.slice_of(data, batch, size)
    if target.kind == "luminate":
        return fmt.luminate_body(cols, scenario)
    if target.kind in ("victoriametrics", "influxdb"):
        return fmt.line_protocol(cols, scenario)
    if target.kind == "prometheus":
        dims = [d.tolist() for d in fmt.dimension_columns(cols, scenario)]
        return remote_write.encode(
            METRIC, scenario.keys, dims, cols.timestamps.tolist(), cols.values.tolist()
        )
    if target.kind == "clickhouse":
        return fmt.clickhouse_rows(cols, scenario)
    raise ValueError(target.kind)


class SendError(RuntimeError):
    pass


class Sender:
    """One keep-alive connection of one client process."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._http: http.client.HTTPConnection | None = None
        self._client: Any = None
        if target.kind == "clickhouse":
            from clickhouse_driver import Client

            self._client = Client(
                HOST, port=target.port, user=target.user, password=target.password
            )

    def send(self, payload: Any, points: int) -> None:
        kind = self.target.kind
        if kind == "clickhouse":
            self._client.execute(
                f"INSERT INTO {RAW_TABLE} (customer_id, endpoint, region, user_id, timestamp_ms, "
                "value) VALUES",
                payload,
                columnar=True,
            )
            return
        path, headers = {
            "luminate": ("/api/v1/write", {"Authorization": f"Bearer {self.target.token}"}),
            "victoriametrics": ("/write?precision=ms", {}),
            "influxdb": (f"/write?db={INFLUX_DB}&precision=ms", {}),
            "prometheus": (
                "/api/v1/write",
                {
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0",
                },
            ),
        }[kind]
        if self._http is None:
            self._http = http.client.HTTPConnection(HOST, self.target.port, timeout=300)
        self._http.request("POST", path, body=payload, headers=headers)
        response = self._http.getresponse()
        body = response.read()
        if response.status not in (200, 204):
            raise SendError(f"{kind}: HTTP {response.status}: {body[:300]!r}")
        if kind == "luminate" and json.loads(body)["accepted"] != points:
            raise SendError(f"luminate accepted fewer than {points} points: {body[:300]!r}")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._client is not None:
            self._client.disconnect()


def _get(port: int, path: str, params: dict[str, str], timeout: float = 600) -> Any:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status} for {path} {params}: {body[:500]!r}")
    return json.loads(body) if body.strip() else None


@dataclass
class System:
    """Base: a server process with a data directory under `workdir`."""

    workdir: Path
    name: str = ""
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def target(self) -> Target:
        return Target(self.name, self.port)

    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(60)

    def flush(self) -> None:
        """Make every accepted point visible to queries and written to disk."""

    def disk_bytes(self) -> int:
        return disk_usage(self.data_dir).total

    def inserts(self) -> int | None:
        """Storage inserts made so far, where the system reports them."""
        return None

    def answer(self, query: str, data: DataSet, customer: str) -> dict[str, Any]:
        """The answer as {group: value} (count per minute: {bucket: count})."""
        raise NotImplementedError

    def _wait_http(self, path: str, timeout_s: float = 60) -> None:
        def ready() -> bool:
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
                conn.request("GET", path)
                ok = conn.getresponse().status in (200, 204)
                conn.close()
            except OSError:
                return False
            return ok

        assert self.process is not None
        self.process.wait_until(ready, timeout_s)


class Luminate(System):
    def __init__(self, workdir: Path, settings: Mapping[str, str] | None = None) -> None:
        super().__init__(workdir, "luminate")
        self.server: Server | None = None
        self.token = ""
        # `LUMINATE_*` settings beyond the defaults, to measure a setting's effect.
        self.settings = dict(settings or {})

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = Server(self.data_dir, self.workdir / "server.log", self.settings)
        self.server.start()
        self.port = self.server.port
        self.token = self.server.token()

    def target(self) -> Target:
        return Target("luminate", self.port, self.token)

    def pid(self) -> int | None:
        return self.server.pid if self.server else None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def flush(self) -> None:
        settle(self.data_dir, 60)

    def inserts(self) -> int | None:
        # The group commit's own count: one observation of the batch size per storage insert.
        assert self.server is not None
        return int(sample(self.server.self_metrics(), "luminate_write_batch_size_count"))

    def disk_bytes(self) -> int:
        return disk_usage(self.data_dir).active_parts

    def _query(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        try:
            conn.request(
                "POST",
                "/api/v1/query",
                body=json.dumps({**body, "timeout": "60s", "limit": 10000}),
                headers={"Authorization": f"Bearer {self.token}"},
            )
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        if r.status != 200:
            raise RuntimeError(f"luminate: HTTP {r.status}: {raw[:300]!r}")
        rows: list[dict[str, Any]] = json.loads(raw)["results"]
        return rows

    def answer(self, query: str, data: DataSet, customer: str) -> dict[str, Any]:
        base = {
            "queryType": "aggregate",
            "metricName": METRIC,
            "timeRange": {"start": data.start_ms, "end": data.end_ms},
        }
        if query == "avg_by_customer":
            rows = self._query({**base, "aggregation": "avg", "groupBy": ["customer_id"]})
            return {r["groupKey"]["customer_id"]: r["value"] for r in rows}
        filters = {"filters": {"customer_id": customer}}
        if query == "p95_one_customer_by_endpoint":
            rows = self._query({**base, **filters, "aggregation": "p95", "groupBy": ["endpoint"]})
            return {r["groupKey"]["endpoint"]: r["value"] for r in rows}
        rows = self._query({**base, **filters, "aggregation": "count", "interval": "1m"})
        return {r["timestamp"]: r["count"] for r in rows}


class VictoriaMetrics(System):
    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "victoriametrics")

    def start(self) -> None:
        self.process = ManagedProcess(
            "victoria-metrics",
            [
                "victoria-metrics",
                f"-storageDataPath={self.data_dir}",
                f"-httpListenAddr={HOST}:{self.port}",
                "-retentionPeriod=100y",
                "-search.maxUniqueTimeseries=100000000",
                "-search.maxSamplesPerQuery=10000000000",
                "-search.latencyOffset=0s",
                # `api_latency value=...` is stored as api_latency, not api_latency_value.
                "-influxSkipSingleField",
                "-loggerLevel=ERROR",
            ],
            self.workdir / "victoria-metrics.log",
        ).start()
        self._wait_http("/health")

    def flush(self) -> None:
        _get(self.port, "/internal/force_flush", {})
        time.sleep(2)

    def _promql(self, expr: str, at_s: float) -> list[dict[str, Any]]:
        params = {"query": expr, "time": f"{at_s:.3f}", "nocache": "1"}
        result: list[dict[str, Any]] = _get(self.port, "/api/v1/query", params)["data"]["result"]
        return result

    def answer(self, query: str, data: DataSet, customer: str) -> dict[str, Any]:
        at = (data.end_ms - 1) / 1000
        span = f"{data.span_ms // 1000 + 1}s"
        sel = f'{METRIC}{{customer_id="{customer}"}}'
        if query == "avg_by_customer":
            expr = (
                f"sum by (customer_id) (sum_over_time({METRIC}[{span}])) / "
                f"sum by (customer_id) (count_over_time({METRIC}[{span}]))"
            )
            return {
                r["metric"]["customer_id"]: float(r["value"][1]) for r in self._promql(expr, at)
            }
        if query == "p95_one_customer_by_endpoint":
            expr = (
                "histogram_quantile(0.95, sum by (endpoint, vmrange) "
                f"(histogram_over_time({sel}[{span}])))"
            )
            return {r["metric"]["endpoint"]: float(r["value"][1]) for r in self._promql(expr, at)}
        return _per_minute(self.port, sel, data, {"nocache": "1"})


class Prometheus(System):
    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "prometheus")

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        # Four clients send concurrently, so a series' samples may arrive out of order.
        config.write_text(
            "global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 2h\n"
        )
        self.process = ManagedProcess(
            "prometheus",
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address={HOST}:{self.port}",
                "--web.enable-remote-write-receiver",
                "--storage.tsdb.retention.time=100y",
                "--query.max-samples=1000000000",
                "--log.level=error",
            ],
            self.workdir / "prometheus.log",
        ).start()
        self._wait_http("/-/ready")

    def answer(self, query: str, data: DataSet, customer: str) -> dict[str, Any]:
        at = (data.end_ms - 1) / 1000
        span = f"{data.span_ms // 1000 + 1}s"
        sel = f'{METRIC}{{customer_id="{customer}"}}'
        if query == "avg_by_customer":
            expr = (
                f"sum by (customer_id) (sum_over_time({METRIC}[{span}])) / "
                f"sum by (customer_id) (count_over_time({METRIC}[{span}]))"
            )
        elif query == "p95_one_customer_by_endpoint":
            expr = f"quantile by (endpoint) (0.95, quantile_over_time(0.95, {sel}[{span}]))"
        else:
            return _per_minute(self.port, sel, data, {})
        rows = _get(self.port, "/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        key = "customer_id" if query == "avg_by_customer" else "endpoint"
        return {r["metric"][key]: float(r["value"][1]) for r in rows["data"]["result"]}


def _per_minute(port: int, sel: str, data: DataSet, extra: dict[str, str]) -> dict[Any, Any]:
    """Counts per minute from a range query: each step counts the minute before it."""
    first = (data.start_ms // 60_000 + 1) * 60
    last = ((data.end_ms - 1) // 60_000 + 1) * 60
    params = {
        "query": f"sum(count_over_time({sel}[60s]))",
        "start": str(first),
        "end": str(last),
        "step": "60",
        **extra,
    }
    result = _get(port, "/api/v1/query_range", params)["data"]["result"]
    values = result[0]["values"] if result else []
    return {(int(t) - 60) * 1000: int(float(v)) for t, v in values}


class InfluxDB(System):
    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "influxdb")

    def start(self) -> None:
        d = self.data_dir
        config = self.workdir / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "{HOST}:{free_port()}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n  index-version = "tsi1"\n'
            "  max-series-per-database = 0\n  max-values-per-tag = 0\n"
            "  query-log-enabled = false\n"
            f'[http]\n  bind-address = "{HOST}:{self.port}"\n  log-enabled = false\n'
            "  max-body-size = 0\n"
            '[logging]\n  level = "error"\n'
        )
        self.process = ManagedProcess(
            "influxd", ["influxd", "-config", str(config)], self.workdir / "influxdb.log"
        ).start()
        self._wait_http("/ping")
        self._influxql(f"CREATE DATABASE {INFLUX_DB}")

    def _influxql(self, q: str) -> list[dict[str, Any]]:
        out = _get(self.port, "/query", {"db": INFLUX_DB, "q": q, "epoch": "ms"})
        result = out["results"][0]
        if "error" in result:
            raise RuntimeError(f"influxdb: {result['error']}")
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def answer(self, query: str, data: DataSet, customer: str) -> dict[str, Any]:
        where = f"time >= {data.start_ms}ms AND time < {data.end_ms}ms"
        if query == "avg_by_customer":
            rows = self._influxql(
                f"SELECT MEAN(value) FROM {METRIC} WHERE {where} GROUP BY customer_id"
            )
            return {s["tags"]["customer_id"]: s["values"][0][1] for s in rows}
        where += f" AND customer_id = '{customer}'"
        if query == "p95_one_customer_by_endpoint":
            rows = self._influxql(
                f"SELECT PERCENTILE(value, 95) FROM {METRIC} WHERE {where} GROUP BY endpoint"
            )
            return {s["tags"]["endpoint"]: s["values"][0][1] for s in rows}
        rows = self._influxql(
            f"SELECT COUNT(value) FROM {METRIC} WHERE {where} GROUP BY time(1m) fill(none)"
        )
        return dict(rows[0]["values"]) if rows else {}


def _stat_cpu(stat: Path) -> float | None:
    """User + system CPU seconds from a `/proc/.../stat` file; None once it is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int | None) -> dict[str, float]:
    """CPU so far of a process's live threads, summed by thread name with any trailing number
    dropped (the engine's `MergeMutate`, `ThreadPool`; Python's `python`)."""
    out: dict[str, float] = {}
    if pid is None:
        return out
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for thread in threads:
        try:
            name = (thread / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended meanwhile
        cpu = _stat_cpu(thread / "stat")
        if cpu is not None:
            group = re.sub(r"[_ ]?\d+$", "", name) or name
            out[group] = out.get(group, 0.0) + cpu
    return out


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU of a process and its threads so far."""
    return None if pid is None else _stat_cpu(Path(f"/proc/{pid}/stat"))
