"""`luminate.client` against a real Luminate: batches, gzip, per-point errors, typed PromQL
answers, and retries that wait what `Retry-After` says (a server with a tight write rate)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from luminate.client import AsyncClient, Client, ClientError, Point, Retrying
from tests.e2e.server import LuminateProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuminateProcess]:
    """A burst of two write requests, then one every two seconds: the third request in a row gets
    429 unless the first two took two seconds (slow enough that a loaded machine stays below)."""
    base: Path = tmp_path_factory.mktemp("client")
    proc = LuminateProcess(
        base / "data",
        base / "luminate.log",
        env_extra={"LUMINATE_RATELIMIT_WRITE_RPS": "0.5", "LUMINATE_RATELIMIT_BURST_SECONDS": "4"},
    ).start()
    yield proc
    proc.kill()


def _points(n: int, bad: set[int] = frozenset()) -> list[Point]:  # type: ignore[assignment]
    now = int(time.time() * 1000)
    return [
        Point(
            "bad-name" if i in bad else "jobs",
            float(i),
            {"queue": f"q{i % 3}"},
            now - 1000 + i,
        )
        for i in range(n)
    ]


def test_batches_are_written_and_errors_reported_by_index(tight: LuminateProcess) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with Client(tight.url, tight.token("client-sync"), batch_size=40, sleep=sleep) as c:
        result = c.write(_points(100, bad={5, 77}))
        assert (result.accepted, result.rejected) == (98, 2)
        assert [(e.index, e.code) for e in result.errors] == [
            (5, "invalid_metric_name"),
            (77, "invalid_metric_name"),
        ]
        # Three requests against a burst of two: the client was told to wait, and did.
        assert waits and all(w >= 1 for w in waits)
        series = c.promql("sum by (queue) (count_over_time(jobs[1h]))")
        expected = {
            f"q{q}": float(sum(1 for i in range(100) if i % 3 == q) - (q == 2) * 2)
            for q in range(3)
        }
        assert {s.labels["queue"]: s.samples[0].value for s in series} == expected


def test_a_request_refused_as_a_whole_raises(tight: LuminateProcess) -> None:
    with Client(tight.url, "not-a-token") as c, pytest.raises(ClientError) as caught:
        c.write(_points(1))
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")
    with Client(tight.url, tight.token("client-sync")) as c, pytest.raises(ClientError) as bad:
        c.promql("sum(")
    assert (bad.value.status, bad.value.code) == (400, "bad_data")


def test_retries_stop_after_the_attempts_allowed(tight: LuminateProcess) -> None:
    """With every retry answered 429 at once (no waiting), the last 429 is raised."""
    with (
        Client(
            tight.url,
            tight.token("client-exhausted"),
            batch_size=1,
            retrying=Retrying(attempts=2),
            sleep=lambda s: None,
        ) as c,
        pytest.raises(ClientError) as caught,
    ):
        c.write(_points(6))
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")


def test_the_async_client_does_the_same(tight: LuminateProcess) -> None:
    async def run() -> None:
        async with AsyncClient(tight.url, tight.token("client-async"), batch_size=50) as c:
            result = await c.write(_points(120, bad={100}))
            assert (result.accepted, result.rejected) == (119, 1)
            assert result.errors[0].index == 100
            series = await c.promql("count(jobs)")
            assert series[0].samples[0].value == 3.0
            answer = await c.query(
                {
                    "queryType": "aggregate",
                    "metricName": "jobs",
                    "timeRange": {"relative": "1h"},
                    "aggregation": "count",
                }
            )
            assert answer["results"][0]["value"] == 119

    asyncio.run(run())
