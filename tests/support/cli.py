"""The `luminate` command run as an operator runs it: a child process with only the environment
given here (no inherited `LUMINATE_*` settings or secret), bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys

TIMEOUT_S = 120.0


def clean_env(**env: str) -> dict[str, str]:
    """This process's environment without any Luminate setting or secret, then `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("LUMINATE_")}
    base.pop("JWT_SECRET", None)
    base.update(env)
    return base


def luminate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`luminate ARGS` with `env` as its settings; the exit code and output, never raising."""
    return subprocess.run(
        [sys.executable, "-m", "luminate", *args],
        capture_output=True,
        text=True,
        env=clean_env(**env),
        timeout=TIMEOUT_S,
        check=False,
    )
