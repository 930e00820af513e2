"""Answers at the limits against the OpenAPI document: a write over the body limit (413), a
tenant over its rate (429 with its X-RateLimit-* headers), a query over its scan budget (422)
and a query refused for concurrency (429) each validate against what the document promises."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from tests.app.bodies import SMALL_BODY_LIMIT, TINY_TIER, metrics_body, padded
from tests.app.conformance import (
    QUERY,
    RATE_LIMIT_HEADERS,
    WRITE,
    Contract,
    request,
    served_document,
)
from tests.app.inprocess import InProcessApp, StartApp
from tests.support.clock import now_ms
from tests.support.points import dumps, point
from tests.support.tenants import new_tenant
from tests.support.tokens import auth_headers


@pytest.fixture(scope="module")
def contract(limited: InProcessApp) -> Contract:
    """The document as the `limited` server serves it (the same document every process serves),
    so these tests start no shared app of their own."""
    return Contract(served_document(limited))


def test_a_write_over_the_body_limit_matches_the_document(
    limited: InProcessApp, contract: Contract
) -> None:
    resp = request(limited, "POST", WRITE, new_tenant(), content=padded(SMALL_BODY_LIMIT + 1))
    assert resp.status_code == 413, resp.text
    assert contract.check(resp, WRITE)["error"]["code"] == "body_too_large"


def tiny_headers(proc: InProcessApp, tenant: str) -> dict[str, str]:
    """A token of the tier with tiny limits that the `limited` server knows."""
    return auth_headers(tenant, tier=TINY_TIER)


def test_rate_limited_answers_match_the_document(limited: InProcessApp, contract: Contract) -> None:
    tenant = new_tenant()
    headers = tiny_headers(limited, tenant)
    answers = []
    for _ in range(3):
        resp = request(
            limited, "POST", WRITE, headers=headers, content=metrics_body(dumps(point()))
        )
        answers.append(resp.status_code)
        contract.check(resp, WRITE)
        if resp.status_code == 429:
            assert resp.json()["error"]["code"] == "rate_limited"
            break
    assert answers[0] == 200
    assert answers[-1] == 429, answers
    query = dumps({"queryType": "range", "metricName": "probe", "timeRange": {"relative": "1h"}})
    answers = []
    for _ in range(20):
        resp = request(limited, "POST", QUERY, headers=headers, content=query)
        answers.append(resp.status_code)
        contract.check(resp, QUERY)
        if resp.status_code == 429:
            break
    assert answers[-1] == 429, answers


def test_a_query_over_its_budget_matches_the_document(
    limited: InProcessApp, contract: Contract
) -> None:
    tenant = new_tenant()
    headers = tiny_headers(limited, tenant)
    points = [dumps(point(timestamp=now_ms() - i * 1000, value=float(i))) for i in range(5)]
    resp = request(limited, "POST", WRITE, headers=headers, content=metrics_body(*points))
    assert resp.status_code == 200, resp.text
    query = {"queryType": "range", "metricName": "probe", "timeRange": {"relative": "1h"}}
    resp = request(limited, "POST", QUERY, headers=headers, content=dumps(query))
    assert resp.status_code == 422, resp.text
    assert contract.check(resp, QUERY)["error"]["code"] == "too_many_rows_scanned"


def test_a_concurrency_429_matches_the_document(
    start_app: StartApp, contract: Contract, tmp_path: Path
) -> None:
    overrides = tmp_path / "limits.yaml"
    overrides.write_text(yaml.safe_dump({"tiers": {"one": {"concurrent_queries": 1}}}))
    proc = start_app(LUMINATE_LIMITS_OVERRIDES_FILE=str(overrides))
    headers = auth_headers("c", "read", tier="one")
    query = dumps({"queryType": "range", "metricName": "probe", "timeRange": {"relative": "30d"}})

    def send(_: int) -> httpx.Response:
        return request(proc, "POST", QUERY, headers=headers, content=query)

    refused = []
    for _ in range(10):
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(send, range(64)))
        refused = [r for r in answers if r.status_code == 429]
        if refused:
            break
    assert refused, "no query was refused for concurrency"
    resp = refused[0]
    assert resp.json()["error"]["code"] == "too_many_concurrent_queries"
    assert [h for h in RATE_LIMIT_HEADERS if h not in resp.headers] == []
    contract.check(resp, QUERY)
