"""Before the clock starts: one request of each kind the run will send, so an unreachable
target, a refused token or a target that only answers errors stops the run at once with the
reason, instead of producing a report of failures.

The write check stores one point of `loadtest_preflight` (outside the scenario's metrics, so it
never counts among the run's acknowledged points)."""

from __future__ import annotations

import asyncio
import time

import msgspec

from luminate.loadtest.connection import Connection, ProtocolError, Target, request_head
from luminate.loadtest.scenarios import RUN_DIMENSION, QueryScenario

PREFLIGHT_METRIC = "loadtest_preflight"


class TargetProblem(Exception):
    """The target cannot take the run; the message says why in one line."""


def check(
    url: str, tokens: dict[str, str], scenarios: list[str], run_id: str, timeout_s: float
) -> None:
    asyncio.run(_check(url, tokens, scenarios, run_id, timeout_s))


async def _check(
    url: str, tokens: dict[str, str], scenarios: list[str], run_id: str, timeout_s: float
) -> None:
    target = Target(url)
    tenant = sorted(tokens)[0]
    auth = f"Bearer {tokens[tenant]}"
    status, _ = await _send(target, "GET", "/healthz", auth, b"", timeout_s, url)
    if status == 404:
        raise TargetProblem(
            f"{url}/healthz answers 404: is --url the base URL of a Luminate server?"
        )
    if "write" in scenarios:
        point = {
            "name": PREFLIGHT_METRIC,
            "timestamp": time.time_ns() // 1_000_000,
            "value": 1.0,
            "dimensions": {RUN_DIMENSION: run_id},
        }
        body = msgspec.json.encode({"metrics": [point]})
        status, answer = await _send(target, "POST", "/api/v1/write", auth, body, timeout_s, url)
        _judge("write", status, answer, tenant)
    if "query" in scenarios:
        _, body = QueryScenario([tenant], 0, 0).next_query()
        status, answer = await _send(target, "POST", "/api/v1/query", auth, body, timeout_s, url)
        _judge("query", status, answer, tenant)


async def _send(
    target: Target, method: str, path: str, auth: str, body: bytes, timeout_s: float, url: str
) -> tuple[int, bytes]:
    conn = None
    try:
        async with asyncio.timeout(timeout_s):
            conn = await Connection.connect(target)
            response = await conn.request(request_head(target, method, path, auth, len(body)), body)
    except TimeoutError:
        raise TargetProblem(f"cannot reach {url}: no answer within {timeout_s:g} s") from None
    except ProtocolError as exc:
        raise TargetProblem(f"{url} does not speak HTTP/1.1: {exc}") from None
    except OSError as exc:
        raise TargetProblem(f"cannot reach {url}: {exc.strerror or exc}") from None
    finally:
        if conn is not None:
            conn.close()
    return response.status, response.body


class _Error(msgspec.Struct):
    code: str = ""
    message: str = ""


class _Answer(msgspec.Struct):
    error: _Error | None = None


def _judge(scenario: str, status: int, body: bytes, tenant: str) -> None:
    if 200 <= status < 300 or status == 429:
        return
    try:
        error = msgspec.json.decode(body, type=_Answer).error
    except msgspec.DecodeError:
        error = None
    detail = (
        f"{error.code}: {error.message}"
        if error is not None
        else body.decode("utf-8", "replace").strip()[:200]
    )
    scope = "write" if scenario == "write" else "read"
    if status == 401:
        raise TargetProblem(
            f"the server refused the token of tenant {tenant} (401 {detail}); "
            "sign with the server's secret or pass --token"
        )
    if status == 403:
        raise TargetProblem(
            f"the token of tenant {tenant} lacks the {scope} scope the {scenario} scenario "
            f"needs (403 {detail})"
        )
    raise TargetProblem(f"the target answers a {scenario} request with {status} {detail}")
