"""What both clients share: points and results as typed values, batches encoded as gzip JSON,
answers decoded, and the retry rule (429 and 503 are retried after `Retry-After`, other errors
are raised at once)."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

RETRIED = (429, 502, 503, 504)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Point:
    """One point to write; `timestamp_ms` defaults to the time it is encoded."""

    name: str
    value: float
    dimensions: Mapping[str, str] = field(default_factory=dict)
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class PointError:
    """A refused point: its index among all the points given to `write`, and why."""

    index: int
    metric: str | None
    code: str
    message: str


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    rejected: int
    errors: list[PointError]


@dataclass(frozen=True)
class Sample:
    timestamp_ms: int
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a PromQL answer: its labels and its samples (one for instant queries)."""

    labels: dict[str, str]
    samples: list[Sample]


class ClientError(Exception):
    """An answer the client does not retry (or stopped retrying): status, stable code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Retrying:
    """How often and how long to retry 429/5xx answers and connection failures."""

    attempts: int = 5
    max_wait_s: float = 30.0
    first_backoff_s: float = 0.5

    def wait_s(self, attempt: int, retry_after: str | None) -> float:
        """Seconds before retry number `attempt` (0-based): the server's Retry-After when it
        gave one, else exponential backoff."""
        if retry_after is not None:
            try:
                return min(float(retry_after), self.max_wait_s)
            except ValueError:
                pass
        return float(min(self.first_backoff_s * 2**attempt, self.max_wait_s))


def batches(points: Iterable[Point], size: int) -> Iterator[tuple[int, list[Point]]]:
    """(index of the first point, points) in batches of at most `size`."""
    batch: list[Point] = []
    start = 0
    for i, p in enumerate(points):
        if not batch:
            start = i
        batch.append(p)
        if len(batch) == size:
            yield start, batch
            batch = []
    if batch:
        yield start, batch


def encode(batch: list[Point], compress: bool) -> tuple[bytes, dict[str, str]]:
    now = time.time_ns() // 1_000_000
    body = _encoder.encode(
        {
            "metrics": [
                {
                    "name": p.name,
                    "value": p.value,
                    "timestamp": p.timestamp_ms if p.timestamp_ms is not None else now,
                    "dimensions": dict(p.dimensions),
                }
                for p in batch
            ]
        }
    )
    headers = {"Content-Type": "application/json"}
    if compress:
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def error_of(status: int, body: bytes) -> ClientError:
    try:
        decoded: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return ClientError(status, "unknown", body[:500].decode(errors="replace"))
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        err = decoded["error"]
        return ClientError(status, str(err.get("code")), str(err.get("message")))
    if isinstance(decoded, dict) and decoded.get("status") == "error":
        return ClientError(status, str(decoded.get("errorType")), str(decoded.get("error")))
    return ClientError(status, "unknown", str(decoded)[:500])


def write_result(status: int, body: bytes, offset: int) -> WriteResult:
    """The answer to one batch (200, 207, or 400 with every point refused), indices shifted to
    the caller's numbering; ClientError for anything else."""
    decoded: Any = msgspec.json.decode(body) if body else {}
    if status in (200, 207) or (status == 400 and "errors" in decoded):
        errors = [
            PointError(
                e["index"] + offset, e.get("metric"), e["error"]["code"], e["error"]["message"]
            )
            for e in decoded.get("errors", [])
        ]
        return WriteResult(int(decoded["accepted"]), int(decoded["rejected"]), errors)
    raise error_of(status, body)


def merge(results: list[WriteResult]) -> WriteResult:
    return WriteResult(
        sum(r.accepted for r in results),
        sum(r.rejected for r in results),
        [e for r in results for e in r.errors],
    )


def series_of(status: int, body: bytes) -> list[Series]:
    """The result of a Prometheus API query as series (a scalar is one series without labels)."""
    if status != 200:
        raise error_of(status, body)
    data: Any = msgspec.json.decode(body)["data"]
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        return [Series({}, [_sample(result)])]
    if kind == "vector":
        return [Series(r["metric"], [_sample(r["value"])]) for r in result]
    return [Series(r["metric"], [_sample(v) for v in r["values"]]) for r in result]


def _sample(pair: list[Any]) -> Sample:
    return Sample(round(float(pair[0]) * 1000), float(pair[1]))
