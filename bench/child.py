"""Measurements that need an engine of their own: a Python snippet run in a fresh process over a
fresh data directory, without any `LUMINATE_*` setting of the caller's, that prints its result
as JSON on its last line."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from tests.support.cli import clean_env


class ChildFailed(RuntimeError):
    """The snippet exited with an error; the message ends with its stderr."""


def run_json(
    script: str,
    args: Sequence[str],
    settings: Mapping[str, str] | None = None,
    *,
    what: str,
    timeout_s: float = 600,
) -> Any:
    """Runs `script` with `args` and `settings` over a temporary `LUMINATE_DATA_DIR`; returns
    the JSON it printed last."""
    with tempfile.TemporaryDirectory(prefix="luminate-bench-") as tmp:
        env = {**clean_env(), "LUMINATE_DATA_DIR": tmp, **(settings or {})}
        out = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    if out.returncode != 0:
        raise ChildFailed(f"{what} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
