"""Run `luminate serve` as a real process on loopback and talk to it only over HTTP."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testbed.net import free_port
from testbed.process import ManagedProcess
from tests.support.cli import clean_env
from tests.support.served import served_env
from tests.support.tokens import auth_headers, token


@dataclass
class LuminateProcess:
    data_dir: Path
    log_path: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    _process: ManagedProcess | None = field(default=None, init=False, repr=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    @classmethod
    def in_dir(cls, base: Path, **env: str) -> LuminateProcess:
        """A server (not yet started) with its data and log in `base` and extra settings."""
        return cls(data_dir=base / "data", log_path=base / "server.log", env_extra=env)

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The `luminate serve` child, once launched."""
        return self._process.proc if self._process is not None else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def internal_url(self) -> str:
        """The internal listener: /metrics and the detailed /api/v1/health (and the probes)."""
        return f"http://127.0.0.1:{self.internal_port}"

    @property
    def client(self) -> httpx.Client:
        """A client of this server's API (closed when the server is stopped or killed)."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, timeout=60.0)
        return self._client

    def env(self) -> dict[str, str]:
        env = clean_env()
        where = {
            "LUMINATE_SERVER_HOST": "127.0.0.1",
            "LUMINATE_SERVER_PORT": str(self.port),
            "LUMINATE_SERVER_INTERNAL_PORT": str(self.internal_port),
            "LUMINATE_DATA_DIR": str(self.data_dir),
        }
        env.update(served_env({**where, **self.env_extra}))
        return env

    def start(self, timeout_s: float = 60.0) -> LuminateProcess:
        self.launch()
        self.wait_ready(timeout_s)
        return self

    def launch(self) -> LuminateProcess:
        """Start `luminate serve` without waiting for it to become ready."""
        self._process = ManagedProcess(
            "luminate serve", [sys.executable, "-m", "luminate", "serve"], self.log_path, self.env()
        ).start()
        return self

    def wait_ready(self, timeout_s: float) -> None:
        assert self._process is not None, "not launched"
        self._process.wait_until(self._ready, timeout_s)

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

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
        return token(tenant, scopes, ttl_s)

    def headers(self, tenant: str, scopes: str = "read,write") -> dict[str, str]:
        return auth_headers(tenant, scopes)

    def signal(self, sig: int) -> None:
        assert self._process is not None, "not launched"
        self._process.signal(sig)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        self._close_client()
        if self._process is not None:
            self._process.kill()

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after `timeout_s`; the exit code (0 if never launched)."""
        self._close_client()
        code = self._process.stop(timeout_s) if self._process is not None else None
        return 0 if code is None else code

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
