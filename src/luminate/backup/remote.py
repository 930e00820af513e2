"""Asking another process to run a backup step: the server that owns the embedded store, or
an agent beside a ClickHouse server. Standard library HTTP; jobs are followed by polling."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from luminate.backup.errors import BackupError
from luminate.backup.progress import Progress

_POLL_S = 0.5


class Remote:
    def __init__(self, base_url: str, token: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310  (configured http(s) URL)
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as answer:  # noqa: S310
                parsed: dict[str, Any] = json.load(answer)
                return parsed
        except urllib.error.HTTPError as exc:
            raise BackupError(
                f"{self.base_url}{path} answered {exc.code}: {_reason(exc)}"
            ) from None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BackupError(f"{self.base_url} unreachable: {reason}") from None

    def follow(
        self, path: str, job: dict[str, Any], progress: Progress, timeout_s: float
    ) -> dict[str, Any]:
        """Poll the job until it ends; its result, or BackupError with its error."""
        deadline = time.monotonic() + timeout_s
        step = ""
        while True:
            if job.get("step") and job["step"] != step:
                step = str(job["step"])
                progress.step(f"{self.base_url}: {step}")
            if job.get("total"):
                progress.advance(int(job["done"]), int(job["total"]), str(job.get("unit", "")))
            if job.get("state") == "done":
                result: dict[str, Any] = job.get("result", {})
                return result
            if job.get("state") == "failed":
                raise BackupError(str(job.get("error") or "the job failed"))
            if time.monotonic() > deadline:
                raise BackupError(
                    f"{self.base_url}: job {job.get('id')} still running after {timeout_s:g} s"
                )
            time.sleep(_POLL_S)
            job = self.call("GET", f"{path}/{job['id']}")


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)
