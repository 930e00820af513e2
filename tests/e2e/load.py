"""A paced, open-loop load driver for one tenant: writes and queries at fixed rates for a fixed
time, recording every answer. Runs in its own process so several tenants load a server at once
without sharing a client's CPU; the noisy-neighbour test and `bench.noisy` both use it."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.e2e.server import LuminateProcess
from tests.support.tokens import token

METRIC = "load"
MAX_IN_FLIGHT = 256


@dataclass(frozen=True)
class Plan:
    url: str
    tenant: str
    write_rps: float
    query_rps: float
    points_per_write: int
    duration_s: float


@dataclass
class Answer:
    kind: str  # "write" or "query"
    status: int
    latency_s: float
    headers: dict[str, str]
    error: dict[str, Any] | None = None


@dataclass
class Outcome:
    tenant: str
    answers: list[Answer] = field(default_factory=list)
    acked_batches: dict[str, int] = field(default_factory=dict)  # batch id -> points
    failures: list[str] = field(default_factory=list)  # connection errors and the like

    def of(self, kind: str, status: int | None = None) -> list[Answer]:
        return [
            a for a in self.answers if a.kind == kind and (status is None or a.status == status)
        ]


def limited_server(base: Path, limits: Mapping[str, Mapping[str, float]]) -> LuminateProcess:
    """A server (not yet started) in `base` whose tenants have `limits` (tenant id -> limits),
    logging warnings only: an access line per request would cost the loaded server time."""
    overrides = base / "limits.yaml"
    overrides.write_text(yaml.safe_dump({"tenants": limits}))
    return LuminateProcess(
        data_dir=base / "data",
        log_path=base / "server.log",
        env_extra={
            "LUMINATE_LIMITS_OVERRIDES_FILE": str(overrides),
            "LUMINATE_LOG_LEVEL": "warning",
        },
    )


def _write_body(batch: str, n: int) -> bytes:
    now = time.time_ns() // 1_000_000
    rows = ",".join(
        f'{{"name":"{METRIC}","timestamp":{now - i},"value":{i}.5,'
        f'"dimensions":{{"batch":"{batch}","user":"u{i}"}}}}'
        for i in range(n)
    )
    return f'{{"metrics":[{rows}]}}'.encode()


QUERY = (
    b'{"queryType":"aggregate","metricName":"load","aggregation":"avg",'
    b'"timeRange":{"relative":"5m"}}'
)


class _Connections:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams. A general-purpose client costs
    a few milliseconds of CPU per request, which on a small machine would take the very CPU
    the server under test needs; this one costs a small fraction of that."""

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(
        self, path: str, body: bytes, auth: str, timeout_s: float
    ) -> tuple[int, dict[str, str], bytes]:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            writer.write(head + body)
            status, headers, payload = await asyncio.wait_for(_response(reader), timeout_s)
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return status, headers, payload

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    payload = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, payload


async def _drive(plan: Plan) -> Outcome:
    out = Outcome(plan.tenant)
    auth = f"Bearer {token(plan.tenant)}"
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    client = _Connections(plan.url)

    async def send(kind: str) -> None:
        async with slots:
            batch = uuid.uuid4().hex
            if kind == "write":
                path, body = "/api/v1/write", _write_body(batch, plan.points_per_write)
            else:
                path, body = "/api/v1/query", QUERY
            started = time.perf_counter()
            try:
                status, headers, payload = await client.post(path, body, auth, 30.0)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                out.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                return
            answer = Answer(kind, status, time.perf_counter() - started, headers)
            if status >= 400:
                answer.error = json.loads(payload).get("error")
            elif kind == "write":
                out.acked_batches[batch] = plan.points_per_write
            out.answers.append(answer)

    async def paced(kind: str, rate: float) -> list[asyncio.Task[None]]:
        tasks: list[asyncio.Task[None]] = []
        if rate <= 0:
            return tasks
        start = time.perf_counter()
        n = 0
        while (due := start + n / rate) < start + plan.duration_s:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(send(kind)))
            n += 1
        return tasks

    try:
        batches = await asyncio.gather(
            paced("write", plan.write_rps), paced("query", plan.query_rps)
        )
        await asyncio.gather(*(t for tasks in batches for t in tasks))
    finally:
        client.close()
    return out


def drive(plan: Plan) -> Outcome:
    """Run the plan to the end (a process entry point)."""
    return asyncio.run(_drive(plan))


def stored_batches(url: str, tenant: str) -> dict[str, int]:
    """Points stored per batch id for the tenant, read back through the query API."""
    body = {
        "queryType": "aggregate",
        "metricName": METRIC,
        "aggregation": "count",
        "groupBy": ["batch"],
        "timeRange": {"relative": "1h"},
        "limit": 100_000,
    }
    resp = httpx.post(
        url + "/api/v1/query",
        headers={"Authorization": f"Bearer {token(tenant)}"},
        json=body,
        timeout=60,
    )
    resp.raise_for_status()
    return {r["groupKey"]["batch"]: r["count"] for r in resp.json()["results"]}


def p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
