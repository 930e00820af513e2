"""A cluster process whose PID is recorded in a file, so that any later process (a `down` run
from another shell, a test) can find it, signal it and wait for it to end.

A PID file alone is not trusted: the PID may have been recycled by another program since. A
process counts as ours only while its command line names a file under its own node directory,
which no other program's does.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testbed.clickhouse.error import ClusterError
from testbed.process import ManagedProcess


@dataclass
class RecordedProcess:
    name: str
    """clickhouse-N or zookeeper-K; also the name of its PID file."""
    dir: Path
    pid_dir: Path
    managed: ManagedProcess | None = field(default=None, repr=False)
    """Set in the process that started it, which must also reap it."""

    @property
    def pid_file(self) -> Path:
        return self.pid_dir / f"{self.name}.pid"

    def start(self, argv: Sequence[str], log_path: Path, env: Mapping[str, str], cwd: Path) -> int:
        if (pid := self.pid()) is not None:
            raise ClusterError(f"{self.name} is already running (pid {pid})")
        self.managed = ManagedProcess(self.name, argv, log_path, env=env, cwd=cwd).start()
        assert self.managed.pid is not None
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{self.managed.pid}\n")
        return self.managed.pid

    def pid(self) -> int | None:
        """The PID if the process this harness started still runs, else None."""
        # Our own child first: polling reaps it once it ended (no zombie is left for later), and
        # its PID cannot have been recycled before that.
        if self.managed is not None and self.managed.running():
            return self.managed.pid
        try:
            text = self.pid_file.read_text().strip()
        except OSError:
            return None
        if not text.isdigit():
            return None
        pid = int(text)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if f"{self.dir}/".encode() in cmdline else None

    def signal(self, sig: signal.Signals) -> int | None:
        """Send sig if it runs; returns the PID signalled."""
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return None
        return pid

    def forget(self) -> None:
        self.pid_file.unlink(missing_ok=True)


def stop_all(
    processes: Sequence[RecordedProcess],
    sig: signal.Signals,
    grace_s: float,
    say: Callable[[str], None],
) -> None:
    """Signal every one that runs, wait for all of them together, SIGKILL what is left after
    grace_s; their PID files go in any case."""
    signalled = [(p, pid) for p in processes if (pid := p.signal(sig)) is not None]
    deadline = time.monotonic() + grace_s
    while any(p.pid() is not None for p, _ in signalled):
        if time.monotonic() >= deadline:
            for p, _ in signalled:
                if (pid := p.signal(signal.SIGKILL)) is not None:
                    say(f"{p.name} (pid {pid}) still running after {grace_s:g}s: SIGKILL")
            _wait_gone([p for p, _ in signalled], 10.0)
            break
        time.sleep(0.05)
    for p in processes:
        p.forget()
    for p, pid in signalled:
        say(f"stopped {p.name} (pid {pid}, {sig.name})")


def _wait_gone(processes: Sequence[RecordedProcess], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(p.pid() is not None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
