"""`luminate serve` as a child process on 127.0.0.1, plus what the benchmark reads about it:
resident memory from /proc and the size of its data directory."""

from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from luminate.auth.tokens import create_token
from testbed.net import free_port
from tests.support.selfmetrics import Samples, parse

HOST = "127.0.0.1"
TENANT = "bench"
# A data part directory: <partition>_<min block>_<max block>_<level>[_<mutation>].
_PART = re.compile(r"(?P<partition>[^_]+)_(?P<min>\d+)_(?P<max>\d+)_(?P<level>\d+)(?:_\d+)?")


class ServerError(RuntimeError):
    """The server did not start, answered badly, or exited early."""


@dataclass
class Server:
    data_dir: Path
    log_path: Path
    env_extra: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError("server is not running")
        return self.proc.pid

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("LUMINATE_") and not k.startswith("JWT_")
        }
        env.update(
            {
                "JWT_SECRET": self.secret,
                "LUMINATE_SERVER_HOST": HOST,
                "LUMINATE_SERVER_PORT": str(self.port),
                "LUMINATE_SERVER_INTERNAL_PORT": str(self.internal_port),
                "LUMINATE_DATA_DIR": str(self.data_dir),
                "LUMINATE_LOG_LEVEL": "warning",
                # Capacity is measured, not a tenant's quota: the limiter runs, nothing trips.
                "LUMINATE_RATELIMIT_WRITE_RPS": "1000000",
                "LUMINATE_RATELIMIT_QUERY_RPS": "1000000",
                "LUMINATE_RATELIMIT_METRICS_PER_SEC": "1000000000",
                "LUMINATE_RATELIMIT_CONCURRENT_QUERIES": "1000",
                "LUMINATE_CARDINALITY_MAX_SERIES": "100000000",
            }
        )
        env.update(self.env_extra)
        return env

    def start(self, timeout_s: float = 120.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "luminate", "serve"],
                env=self.env(),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise ServerError(f"luminate not ready within {timeout_s:g} s\n{self.log_tail()}")

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise ServerError(f"luminate exited with {code}\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def get(self, path: str) -> tuple[int, bytes]:
        return self._get(self.port, path)

    def get_internal(self, path: str) -> tuple[int, bytes]:
        """A GET on the internal listener (/metrics, the detailed health report)."""
        return self._get(self.internal_port, path)

    def self_metrics(self) -> Samples:
        """The server's own metrics, from /metrics on the internal listener."""
        status, body = self.get_internal("/metrics")
        if status != 200:
            raise ServerError(f"/metrics answered {status}")
        return parse(body.decode())

    def _get(self, port: int, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def token(self, scopes: tuple[str, ...] = ("read", "write"), ttl_s: int = 24 * 3600) -> str:
        return create_token(self.secret, tenant=TENANT, scopes=list(scopes), ttl_s=ttl_s)

    def stop(self, timeout_s: float = 60.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def memory(self) -> Memory:
        """VmRSS and VmHWM (peak RSS) of the server process, in bytes."""
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0]) * 1024
        return Memory(rss=fields["VmRSS"], peak=fields["VmHWM"])


@dataclass(frozen=True)
class Memory:
    rss: int
    peak: int


@dataclass(frozen=True)
class DiskUsage:
    """Bytes allocated under the data directory (as `du`), and the part of it held by active
    data parts of the samples table (parts already merged into a bigger one are excluded;
    the engine deletes those only some minutes after the merge)."""

    total: int
    active_parts: int
    parts: int
    inactive_parts: int


def _allocated(path: Path) -> int:
    size = 0
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            try:
                size += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return size


def _part_dirs(data_dir: Path) -> list[Path]:
    """Data part directories of the samples table (found by its `samples` table directory)."""
    found: list[Path] = []
    for table_dir in data_dir.rglob("samples"):
        if not table_dir.is_dir():
            continue
        found += [p for p in table_dir.iterdir() if p.is_dir() and _PART.fullmatch(p.name)]
    if not found:
        for checksums in data_dir.rglob("checksums.txt"):
            part = checksums.parent
            if _PART.fullmatch(part.name) and part.parent.name != "detached":
                found.append(part)
    return found


def _active(parts: list[Path]) -> list[Path]:
    spans = []
    for p in parts:
        m = _PART.fullmatch(p.name)
        assert m is not None
        spans.append((p, m["partition"], int(m["min"]), int(m["max"]), int(m["level"])))
    active = []
    for p, part_id, lo, hi, level in spans:
        covered = any(
            q_part == part_id
            and q_lo <= lo
            and hi <= q_hi
            and (q_lo, q_hi, q_level) != (lo, hi, level)
            and (q_hi - q_lo > hi - lo or q_level > level)
            for q, q_part, q_lo, q_hi, q_level in spans
            if q is not p
        )
        if not covered:
            active.append(p)
    return active


def disk_usage(data_dir: Path) -> DiskUsage:
    parts = _part_dirs(data_dir)
    active = _active(parts)
    return DiskUsage(
        total=_allocated(data_dir),
        active_parts=sum(_allocated(p) for p in active),
        parts=len(active),
        inactive_parts=len(parts) - len(active),
    )


@dataclass(frozen=True)
class Settled:
    waited_s: float
    quiet: bool
    usage: DiskUsage


def settle(data_dir: Path, max_wait_s: float, quiet_s: float = 5.0) -> Settled:
    """Wait until the set of active parts has not changed for `quiet_s` (background merges have
    stopped), at most `max_wait_s`; `quiet` says whether that happened in time."""
    started = time.monotonic()
    names = {p.name for p in _active(_part_dirs(data_dir))}
    stable_since = started
    quiet = False
    while time.monotonic() - started < max_wait_s:
        time.sleep(1.0)
        now_names = {p.name for p in _active(_part_dirs(data_dir))}
        if now_names != names:
            names = now_names
            stable_since = time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            quiet = True
            break
    return Settled(time.monotonic() - started, quiet, disk_usage(data_dir))


@contextmanager
def running(workdir: Path, name: str, env_extra: Mapping[str, str]) -> Iterator[Server]:
    """A started server with its own data directory under `workdir`; always stopped on exit."""
    data_dir = workdir / name / "data"
    data_dir.mkdir(parents=True)
    server = Server(data_dir=data_dir, log_path=workdir / name / "server.log", env_extra=env_extra)
    try:
        server.start()
        yield server
    finally:
        server.stop()
