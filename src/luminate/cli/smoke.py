"""`luminate smoke-test`: the check an operator runs against a deployment right after a rollout.

It speaks only HTTP to the URL it is given (standard library, no extra dependency), walks the
probes, writes one uniquely labelled point, reads it back, finds it through discovery and looks at
the self-metrics. One line per check; exit 0 when every check passed, 1 when any failed, 2 for a
usage error. Each run leaves one point of `luminate_smoke_test` in the token's tenant."""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

METRIC = "luminate_smoke_test"
RETRY_PAUSE_S = 0.2
# Self-metrics whose absence means the process is not the Luminate build it should be.
REQUIRED_SELF_METRICS = ("luminate_build_info", "luminate_http_requests_total")


class Verdict(StrEnum):
    PASS = "PASS"  # noqa: S105  (a verdict, not a credential)
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Outcome:
    name: str
    verdict: Verdict
    seconds: float
    detail: str
    answered: bool = True
    """False when the server gave no HTTP answer at all."""

    def line(self) -> str:
        took = "-" if self.verdict is Verdict.SKIP else f"{self.seconds * 1000:.0f} ms"
        text = f"{self.name:<13} {self.verdict.value:<4} {took:>8}"
        return f"{text}  {self.detail}" if self.detail else text


class CheckFailed(Exception):
    """A check's precise reason for failing; the message is printed as is."""


class Unreachable(CheckFailed):
    """No HTTP answer at all: connection refused, DNS, TLS, timeout, connection dropped."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise CheckFailed(f"HTTP {self.status} with a body that is not a JSON object")
        return body

    def failure(self, scope: str | None = None) -> CheckFailed:
        """The reason an unexpected status failed a check: status, error code and message."""
        reason = f"HTTP {self.status}"
        try:
            error = json.loads(self.body)["error"]
            reason += f" {error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            text = self.body.decode("utf-8", "replace").strip().replace("\n", " ")
            if text:
                reason += f": {text[:200]}"
        if self.status == 403 and scope is not None:
            reason += f" (smoke-test needs a token with the read and write scopes, {scope} here)"
        elif self.status == 401:
            reason += " (the token was refused)"
        elif self.status == 404 and not self.body.startswith(b"{"):
            reason += " (is --url the base URL of a Luminate server?)"
        return CheckFailed(reason)


class Client:
    """One HTTP request at a time against the base URL, each bounded by `timeout_s`."""

    def __init__(self, base_url: str, token: str, timeout_s: float) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._token = token

    def get(self, path: str, *, auth: bool = False) -> Answer:
        return self._send("GET", path, None, auth)

    def post(self, path: str, body: Any) -> Answer:
        return self._send("POST", path, json.dumps(body).encode(), True)

    def _send(self, method: str, path: str, data: bytes | None, auth: bool) -> Answer:
        headers = {"Accept": "application/json", "User-Agent": "luminate-smoke-test"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(  # noqa: S310  (the scheme was checked: http or https)
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return Answer(response.status, response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, exc.read())
        except urllib.error.URLError as exc:
            raise Unreachable(self._describe(exc.reason)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(self._describe(exc)) from None

    def _describe(self, reason: object) -> str:
        if isinstance(reason, TimeoutError):
            return f"connection failed: no answer from {self.base_url} within {self.timeout_s:g} s"
        return f"connection failed: {reason} ({self.base_url})"


class SmokeTest:
    """The checks, in order. Each returns a short detail for its PASS line or raises CheckFailed."""

    def __init__(self, client: Client, internal: Client | None = None) -> None:
        self.client = client
        self.internal = internal
        self.run_id = str(uuid.uuid4())
        self.timestamp_ms = time.time_ns() // 1_000_000
        # Exactly representable, different per run: a stale or foreign point cannot match it.
        self.value = (uuid.UUID(self.run_id).int % 1_000_000) / 4

    def checks(self) -> list[tuple[str, Callable[[], str], str | None]]:
        """(name, check, the earlier check it needs) in the order they run."""
        return [
            ("healthz", lambda: self._probe("/healthz"), None),
            ("readyz", lambda: self._probe("/readyz"), "healthz"),
            ("startupz", lambda: self._probe("/startupz"), "healthz"),
            ("write", self.write, "healthz"),
            ("read-back", self.read_back, "write"),
            ("discovery", self.discovery, "write"),
            ("self-metrics", self.self_metrics, "healthz"),
        ]

    def run(self, report: Callable[[Outcome], None]) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        for name, check, needs in self.checks():
            outcome = self._skip(name, needs, outcomes) or _timed(name, check)
            outcomes[name] = outcome
            report(outcome)
        return list(outcomes.values())

    @staticmethod
    def _skip(name: str, needs: str | None, done: dict[str, Outcome]) -> Outcome | None:
        if needs is None or done[needs].verdict is Verdict.PASS:
            return None
        if needs == "healthz":
            # Only an unreachable server makes the later checks pointless; a /healthz answering
            # something else than 200 still lets them say more.
            if done[needs].answered:
                return None
            return Outcome(name, Verdict.SKIP, 0.0, "skipped: the server did not answer /healthz")
        return Outcome(name, Verdict.SKIP, 0.0, f"skipped: needs the {needs} check to pass")

    def _probe(self, path: str) -> str:
        answer = self.client.get(path)
        if answer.status == 200:
            return ""
        try:
            body = answer.json()
        except CheckFailed:
            raise answer.failure() from None
        if "error" in body:
            raise answer.failure()
        # Probe bodies say why: {"status": "draining"}, or storage down with its error.
        reason = f"HTTP {answer.status}, expected 200: status {body.get('status')!r}"
        storage = body.get("storage")
        if isinstance(storage, dict) and storage.get("error"):
            reason += f", storage {storage.get('status')}: {storage['error']}"
        raise CheckFailed(reason)

    def write(self) -> str:
        point = {
            "name": METRIC,
            "timestamp": self.timestamp_ms,
            "value": self.value,
            "dimensions": {"run": self.run_id},
        }
        answer = self.client.post("/api/v1/write", {"metrics": [point]})
        if answer.status == 207 or (answer.status == 400 and _point_errors(answer)):
            raise CheckFailed(f"HTTP {answer.status}, point rejected: {_point_errors(answer)}")
        if answer.status != 200:
            raise answer.failure(scope="write")
        accepted = answer.json().get("accepted")
        if accepted != 1:
            raise CheckFailed(f"HTTP 200 but accepted {accepted!r}, expected 1")
        return f"run={self.run_id}"

    def read_back(self) -> str:
        query = {
            "queryType": "range",
            "metricName": METRIC,
            "timeRange": {"start": self.timestamp_ms - 1000, "end": self.timestamp_ms + 1000},
            "filters": {"run": self.run_id},
            "limit": 10,
        }
        began = time.monotonic()
        points = self._until_found(lambda: self._points(query))
        if not points:
            raise CheckFailed(
                f"the written point was not visible within {self.client.timeout_s:g} s"
            )
        if len(points) != 1:
            raise CheckFailed(f"expected 1 point for run={self.run_id}, found {len(points)}")
        found = points[0]
        if found.get("value") != self.value or found.get("timestamp") != self.timestamp_ms:
            raise CheckFailed(
                f"read value {found.get('value')!r} at {found.get('timestamp')!r}, "
                f"wrote {self.value!r} at {self.timestamp_ms}"
            )
        return f"visible after {(time.monotonic() - began) * 1000:.0f} ms"

    def _points(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        answer = self.client.post("/api/v1/query", query)
        if answer.status != 200:
            raise answer.failure(scope="read")
        results: list[dict[str, Any]] = answer.json().get("results", [])
        return results

    def discovery(self) -> str:
        window = urllib.parse.urlencode(
            {"start": self.timestamp_ms - 1000, "end": self.timestamp_ms + 1000, "limit": 10_000}
        )

        def names() -> list[str]:
            answer = self.client.get(f"/api/v1/metrics?{window}", auth=True)
            if answer.status != 200:
                raise answer.failure(scope="read")
            listed = [m.get("name") for m in answer.json().get("metrics", [])]
            return [n for n in listed if n == METRIC]

        if not self._until_found(names):
            raise CheckFailed(f"GET /api/v1/metrics does not list {METRIC}")
        return ""

    def self_metrics(self) -> str:
        if self.internal is None:
            # Only the internal listener serves them; the public URL must not.
            answer = self.client.get("/metrics")
            if answer.status == 404:
                return "not public (404); --internal-url reads them"
            if answer.status == 200:
                raise CheckFailed(
                    "the public URL serves /metrics (tenant ids in labels): expose only "
                    "LUMINATE_SERVER_PORT, never LUMINATE_SERVER_INTERNAL_PORT"
                )
            raise answer.failure()
        answer = self.internal.get("/metrics")
        if answer.status != 200:
            raise answer.failure()
        samples = [
            line
            for line in answer.body.decode("utf-8", "replace").splitlines()
            if line and not line.startswith("#")
        ]
        missing = [
            name
            for name in REQUIRED_SELF_METRICS
            if not any(s.startswith((name + "{", name + " ")) for s in samples)
        ]
        if missing:
            raise CheckFailed(f"/metrics lacks {', '.join(missing)}")
        build = next(s for s in samples if s.startswith(REQUIRED_SELF_METRICS[0]))
        version = build.partition('version="')[2].partition('"')[0]
        return f"version {version}" if version else ""

    def _until_found(self, look: Callable[[], list[Any]]) -> list[Any]:
        """Storage may make a write visible a moment after acknowledging it (replicas), so look
        again for up to the request timeout."""
        deadline = time.monotonic() + self.client.timeout_s
        while True:
            found = look()
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(RETRY_PAUSE_S)


def _point_errors(answer: Answer) -> str:
    try:
        errors = answer.json().get("errors") or []
        return "; ".join(f"{e['error']['code']}: {e['error']['message']}" for e in errors)
    except (CheckFailed, AttributeError, KeyError, TypeError):
        return ""


def _timed(name: str, check: Callable[[], str]) -> Outcome:
    began = time.monotonic()
    try:
        detail = check()
    except Unreachable as exc:
        return Outcome(name, Verdict.FAIL, time.monotonic() - began, str(exc), answered=False)
    except CheckFailed as exc:
        return Outcome(name, Verdict.FAIL, time.monotonic() - began, str(exc))
    except (KeyError, TypeError, AttributeError) as exc:
        # A JSON object of an unexpected shape: not a Luminate answer of this version.
        reason = f"unexpected response shape ({type(exc).__name__}: {exc})"
        return Outcome(name, Verdict.FAIL, time.monotonic() - began, reason)
    return Outcome(name, Verdict.PASS, time.monotonic() - began, detail)


def base_url(raw: str, option: str = "--url") -> str:
    """The server's base URL without a trailing slash; ValueError says what is wrong with it."""
    parts = urllib.parse.urlsplit(raw.strip())
    if any(c.isspace() or not c.isprintable() for c in raw.strip()):
        raise ValueError(f"{option} contains whitespace or control characters: {raw!r}")
    if parts.scheme not in {"http", "https"}:
        raise ValueError(f"{option} must start with http:// or https://, got {raw!r}")
    if not parts.hostname:
        raise ValueError(f"{option} has no host: {raw!r}")
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise ValueError(f"{option} has an invalid port: {raw!r}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"{option} must be a base URL, without ?query or #fragment: {raw!r}")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    smoke = sub.add_parser(
        "smoke-test",
        help="check a running deployment end to end (probes, write, read-back, discovery)",
    )
    smoke.add_argument("--url", help="base URL of the deployment, e.g. https://luminate.example")
    smoke.add_argument("--token", help="API token with the read and write scopes")
    smoke.add_argument(
        "--internal-url",
        help="base URL of one pod's internal port, to check its /metrics (else: that the public "
        "URL does not serve them)",
    )
    smoke.add_argument("--timeout", default="10", help="seconds per request (default 10)")
    smoke.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        if not args.url:
            raise ValueError("smoke-test needs --url")
        url = base_url(args.url)
        token = (args.token or "").strip()
        if not token:
            raise ValueError("smoke-test needs --token (a token with the read and write scopes)")
        if any(c.isspace() or not c.isprintable() for c in token):
            raise ValueError("--token contains whitespace or control characters")
        timeout_s = _timeout(args.timeout)
        internal = base_url(args.internal_url, "--internal-url") if args.internal_url else None
    except ValueError as exc:
        print(f"luminate: {exc}", file=sys.stderr)
        return 2
    began = time.monotonic()
    test = SmokeTest(
        Client(url, token, timeout_s),
        Client(internal, token, timeout_s) if internal is not None else None,
    )
    outcomes = test.run(lambda outcome: print(outcome.line(), flush=True))
    counts = {v: sum(o.verdict is v for o in outcomes) for v in Verdict}
    print(
        f"smoke-test {url}: {counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, "
        f"{counts[Verdict.SKIP]} skipped in {time.monotonic() - began:.1f} s"
    )
    return 0 if counts[Verdict.PASS] == len(outcomes) else 1


def _timeout(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"--timeout must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 3600:
        raise ValueError(f"--timeout must be between 0 and 3600 seconds, got {raw!r}")
    return value
