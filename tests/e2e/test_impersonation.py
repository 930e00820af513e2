"""An admin token acting as another tenant (`?tenant=`) is logged with who acted as whom and
counted, and LUMINATE_ADMIN_IMPERSONATION can restrict it to the admin endpoints or forbid it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import httpx

from tests.e2e.selfmetrics import sample, scrape
from tests.e2e.server import LuminateProcess

StartServer = Callable[..., LuminateProcess]


def admin_headers(proc: LuminateProcess, tenant: str) -> dict[str, str]:
    from luminate.auth.tokens import create_token
    from tests.support.tokens import TEST_SECRET

    token = create_token(
        TEST_SECRET, tenant=tenant, scopes=["read", "write", "admin"], ttl_s=600, subject="ops-1"
    )
    return {"Authorization": f"Bearer {token}"}


def audit_lines(proc: LuminateProcess) -> list[dict[str, object]]:
    lines = []
    for line in proc.log_path.read_text().splitlines():
        if '"impersonation"' in line:
            lines.append(json.loads(line))
    return lines


def test_impersonation_is_logged_and_counted(start_server: StartServer) -> None:
    proc = start_server()
    target = f"victim-{uuid.uuid4().hex[:8]}"
    headers = admin_headers(proc, "ops")
    before = scrape(proc)
    resp = httpx.get(f"{proc.url}/api/v1/metrics?tenant={target}", headers=headers, timeout=30)
    assert resp.status_code == 200
    resp = httpx.get(f"{proc.url}/api/v1/admin/retention?tenant={target}", headers=headers)
    assert resp.status_code == 200
    # Own tenant named explicitly: not an impersonation.
    resp = httpx.get(f"{proc.url}/api/v1/metrics?tenant=ops", headers=headers, timeout=30)
    assert resp.status_code == 200
    deadline = time.monotonic() + 5
    while len(audit_lines(proc)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = audit_lines(proc)
    assert [(x["route"], x["acting_tenant"], x["target_tenant"], x["subject"]) for x in lines] == [
        ("/api/v1/metrics", "ops", target, "ops-1"),
        ("/api/v1/admin/retention", "ops", target, "ops-1"),
    ]
    after = scrape(proc)
    name = "luminate_admin_impersonations_total"
    for route in ("/api/v1/metrics", "/api/v1/admin/retention"):
        assert sample(after, name, route=route) - sample(before, name, route=route) == 1


def test_impersonation_can_be_limited_to_admin_endpoints_or_forbidden(
    start_server: StartServer,
) -> None:
    limited = start_server(LUMINATE_ADMIN_IMPERSONATION="admin_endpoints")
    headers = admin_headers(limited, "ops")
    resp = httpx.get(f"{limited.url}/api/v1/metrics?tenant=other", headers=headers, timeout=30)
    assert resp.status_code == 403
    error = resp.json()["error"]
    assert error["code"] == "insufficient_scope"
    assert "LUMINATE_ADMIN_IMPERSONATION=admin_endpoints" in error["message"]
    resp = httpx.get(f"{limited.url}/api/v1/admin/retention?tenant=other", headers=headers)
    assert resp.status_code == 200
    assert audit_lines(limited)[-1]["target_tenant"] == "other"

    off = start_server(LUMINATE_ADMIN_IMPERSONATION="off")
    headers = admin_headers(off, "ops")
    resp = httpx.get(f"{off.url}/api/v1/admin/retention?tenant=other", headers=headers)
    assert resp.status_code == 403
    assert resp.json()["error"]["details"] == {"impersonation": "off"}
    assert audit_lines(off) == []
