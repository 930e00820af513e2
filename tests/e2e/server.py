"""Run `luminate serve` as a real process on loopback and talk to it only over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from luminate.auth.tokens import create_token
from testbed.net import free_port
from tests.conftest import TEST_SECRET

# Servers under test run with tenant limits far above what any test sends, so tests of other
# features never meet a 429; tests of the limits themselves set their own.
HIGH_LIMITS = {
    "LUMINATE_RATELIMIT_WRITE_RPS": "1000000",
    "LUMINATE_RATELIMIT_QUERY_RPS": "1000000",
    "LUMINATE_RATELIMIT_METRICS_PER_SEC": "1000000000",
    "LUMINATE_RATELIMIT_CONCURRENT_QUERIES": "1000",
}


@dataclass
class LuminateProcess:
    data_dir: Path
    log_path: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def internal_url(self) -> str:
        """The internal listener: /metrics and the detailed /api/v1/health (and the probes)."""
        return f"http://127.0.0.1:{self.internal_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LUMINATE_")}
        env.update(
            {
                "JWT_SECRET": TEST_SECRET,
                "LUMINATE_SERVER_HOST": "127.0.0.1",
                "LUMINATE_SERVER_PORT": str(self.port),
                "LUMINATE_SERVER_INTERNAL_PORT": str(self.internal_port),
                "LUMINATE_DATA_DIR": str(self.data_dir),
                "LUMINATE_STORAGE_FSYNC": "false",
                **HIGH_LIMITS,
            }
        )
        env.update(self.env_extra)
        return env

    def start(self, timeout_s: float = 60.0) -> LuminateProcess:
        self.launch()
        self.wait_ready(timeout_s)
        return self

    def launch(self) -> LuminateProcess:
        """Start `luminate serve` without waiting for it to become ready."""
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "luminate", "serve"],
                env=self.env(),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"luminate exited with {self.proc.returncode}:\n{tail}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(
            f"luminate not ready in {timeout_s} s:\n{self.log_path.read_text()[-3000:]}"
        )

    def migrate(self, timeout_s: float = 120.0) -> None:
        """`luminate migrate` with this process's settings; fails the test with its stderr."""
        out = subprocess.run(
            [sys.executable, "-m", "luminate", "migrate"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        assert out.returncode == 0, out.stderr

    def token(self, tenant: str, scopes: str = "read,write", ttl_s: int = 3600) -> str:
        return create_token(TEST_SECRET, tenant=tenant, scopes=scopes.split(","), ttl_s=ttl_s)

    def headers(self, tenant: str, scopes: str = "read,write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant, scopes)}"}

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)
