"""HAProxy (Debian's `haproxy`) on loopback: a round-robin HTTP balancer in front of several
`luminate serve` processes, as a Kubernetes Service spreads requests over pods; or a target that
answers every request at once with a fixed body, to measure a load generator's own ceiling.

Run in the foreground (`-db`) as a `ManagedProcess`, stopped by its own PID."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from testbed.net import free_port, wait_port
from testbed.process import ManagedProcess

START_TIMEOUT_S = 20.0

_GLOBAL = """\
global
  maxconn 2000
  {tune}
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  option http-keep-alive
"""


class HAProxyMissing(RuntimeError):
    """haproxy is not installed (scripts/setup-tools.sh installs it)."""


def executable() -> str:
    found = shutil.which("haproxy") or shutil.which("/usr/sbin/haproxy")
    if found is None:
        raise HAProxyMissing("haproxy is not installed: run scripts/setup-tools.sh as root")
    return found


@dataclass
class HAProxy:
    process: ManagedProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def balancer(
        cls,
        base_dir: Path,
        backends: list[str],
        check_path: str = "/readyz",
        period_s: float = 5.0,
        check_timeout_s: float = 3.0,
        failure_threshold: int = 2,
    ) -> HAProxy:
        """Round robin over `backends` (base URLs), each checked with GET `check_path` like a
        readiness probe (defaults: the production Deployment's period, timeout and failure
        threshold; back in rotation after one success). Server connections are kept alive and
        shared between client connections, as a proxy in front of pods does."""
        port = free_port()
        servers = "\n".join(
            f"  server pod{i} {url.removeprefix('http://')}" for i, url in enumerate(backends)
        )
        config = (
            _GLOBAL.format(tune="")
            + f"""\
  http-reuse always
frontend service
  bind 127.0.0.1:{port}
  default_backend pods
backend pods
  balance roundrobin
  option httpchk GET {check_path}
  timeout check {int(check_timeout_s * 1000)}ms
  default-server check inter {int(period_s * 1000)}ms fall {failure_threshold} rise 1
{servers}
"""
        )
        return cls._start(base_dir, config, port)

    @classmethod
    def fixed_answer(
        cls, base_dir: Path, body: str, status: int = 200, tls_pem: Path | None = None
    ) -> HAProxy:
        """Answers every request `status` with `body` (JSON), after reading the request whole;
        over TLS with `tls_pem` (certificate and key in one PEM file)."""
        port = free_port()
        tls = f" ssl crt {tls_pem}" if tls_pem is not None else ""
        quoted = body.replace("\\", "\\\\").replace('"', '\\"')
        config = (
            # The whole request is read before answering (bodies up to 1 MiB), so the client can
            # keep its connection alive.
            _GLOBAL.format(tune="tune.bufsize 1048576")
            + f"""\
frontend target
  bind 127.0.0.1:{port}{tls}
  option http-buffer-request
  http-request return status {status} content-type application/json string "{quoted}"
"""
        )
        return cls._start(base_dir, config, port)

    @classmethod
    def _start(cls, base_dir: Path, config: str, port: int) -> HAProxy:
        base_dir.mkdir(parents=True, exist_ok=True)
        config_path = base_dir / f"haproxy-{port}.cfg"
        config_path.write_text(config)
        process = ManagedProcess(
            f"haproxy:{port}",
            [executable(), "-db", "-f", str(config_path)],
            base_dir / f"haproxy-{port}.log",
        ).start()
        process.wait_until(lambda: wait_port(port, 0.2), START_TIMEOUT_S, "listening")
        return cls(process, port)

    def stop(self) -> None:
        self.process.stop(10)
