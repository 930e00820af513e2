"""Ingest throughput: concurrent client processes POST pre-encoded bodies to /api/v1/write.

Each client process encodes its share of the batches first (batch `i` goes to client
`i % clients`, so arrivals stay roughly in time order), waits at a barrier until every client is
ready, then sends its bodies one after another over one keep-alive connection. Only the sending
is timed: from the first client leaving the barrier to the last response. Every response must
be 200 with `accepted` equal to the points of its body; anything else fails the run."""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.synchronize as mps
import queue
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from typing import Any

import msgspec

from bench.client import Connection
from bench.generate import DataSet, bodies
from bench.server import Server
from bench.stats import ms, percentile

WRITE_PATH = "/api/v1/write"
READY_TIMEOUT_S = 900.0
# The longest a single write may take before the run is declared stuck.
REQUEST_TIMEOUT_S = 300.0
MAX_FAILURES_SHOWN = 5


class IngestError(RuntimeError):
    """A write was not answered 200 with every point accepted, or a client failed."""


class _WriteAnswer(msgspec.Struct):
    accepted: int
    rejected: int


_answer = msgspec.json.Decoder(_WriteAnswer)


@dataclass(frozen=True)
class ClientJob:
    client: int
    port: int
    token: str
    data: DataSet
    batch_size: int
    indices: tuple[int, ...]


@dataclass
class ClientResult:
    client: int
    requests: int = 0
    points: int = 0
    accepted: int = 0
    body_bytes: int = 0
    encode_s: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _client(job: ClientJob, barrier: mps.Barrier, results: Queue[ClientResult]) -> None:
    """Body of one client process; always puts exactly one ClientResult on `results`."""
    out = ClientResult(job.client)
    try:
        t0 = time.monotonic()
        batch = list(bodies(job.data, job.batch_size, job.indices))
        out.encode_s = time.monotonic() - t0
        barrier.wait(READY_TIMEOUT_S)
        conn = Connection(job.port, job.token, timeout_s=REQUEST_TIMEOUT_S)
        out.started = time.monotonic()
        for body in batch:
            sent = time.monotonic()
            status, data = conn.post(WRITE_PATH, body.data)
            out.latencies.append(time.monotonic() - sent)
            out.requests += 1
            out.points += body.points
            out.body_bytes += len(body.data)
            if status != 200:
                out.failures.append(f"batch {body.index}: HTTP {status}: {data[:500]!r}")
                break
            answer = _answer.decode(data)
            out.accepted += answer.accepted
            if answer.accepted != body.points or answer.rejected:
                out.failures.append(
                    f"batch {body.index}: sent {body.points} points, server accepted "
                    f"{answer.accepted} and rejected {answer.rejected}: {data[:500]!r}"
                )
                break
        out.finished = time.monotonic()
        conn.close()
    except Exception:
        barrier.abort()
        out.failures.append(traceback.format_exc())
    results.put(out)


@dataclass(frozen=True)
class IngestResult:
    points: int
    batch_size: int
    clients: int
    requests: int
    seconds: float
    points_per_s: float
    mb_per_s: float
    request_p50_ms: float
    request_p99_ms: float
    encode_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "batch_size": self.batch_size,
            "clients": self.clients,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "points_per_s": round(self.points_per_s),
            "mb_per_s": round(self.mb_per_s, 2),
            "request_p50_ms": self.request_p50_ms,
            "request_p99_ms": self.request_p99_ms,
            "client_encode_s": round(self.encode_s, 2),
        }


def ingest(server: Server, data: DataSet, batch_size: int, clients: int) -> IngestResult:
    """Send every point of `data` in batches of `batch_size` from `clients` processes."""
    n_batches = data.batches(batch_size)
    clients = max(1, min(clients, n_batches))
    token = server.token(("write",))
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients)
    results: Queue[ClientResult] = ctx.Queue()
    procs: list[SpawnProcess] = []
    got: list[ClientResult] = []
    try:
        for c in range(clients):
            job = ClientJob(
                c, server.port, token, data, batch_size, tuple(range(c, n_batches, clients))
            )
            proc = ctx.Process(target=_client, args=(job, barrier, results), daemon=True)
            proc.start()
            procs.append(proc)
        per_client = -(-n_batches // clients)
        deadline = time.monotonic() + READY_TIMEOUT_S + REQUEST_TIMEOUT_S * per_client
        while len(got) < clients:
            try:
                got.append(results.get(timeout=1.0))
            except queue.Empty:
                server.check_alive()
                dead = [p.pid for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise IngestError(f"client process(es) {dead} died without a result") from None
                if time.monotonic() > deadline:
                    raise IngestError("clients did not finish in time") from None
        for p in procs:
            p.join(30)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(10)
    return _summarize(got, data, batch_size)


def _summarize(results: list[ClientResult], data: DataSet, batch_size: int) -> IngestResult:
    failures = [f"client {r.client}: {f}" for r in results for f in r.failures]
    if failures:
        shown = "\n".join(failures[:MAX_FAILURES_SHOWN])
        raise IngestError(f"{len(failures)} client failure(s):\n{shown}")
    points = sum(r.points for r in results)
    accepted = sum(r.accepted for r in results)
    if points != data.points or accepted != points:
        raise IngestError(
            f"expected {data.points} points sent and accepted; sent {points}, accepted {accepted}"
        )
    seconds = max(r.finished for r in results) - min(r.started for r in results)
    latencies = [x for r in results for x in r.latencies]
    return IngestResult(
        points=points,
        batch_size=batch_size,
        clients=len(results),
        requests=sum(r.requests for r in results),
        seconds=seconds,
        points_per_s=points / seconds,
        mb_per_s=sum(r.body_bytes for r in results) / seconds / 1e6,
        request_p50_ms=ms(percentile(latencies, 50)),
        request_p99_ms=ms(percentile(latencies, 99)),
        encode_s=max(r.encode_s for r in results),
    )
