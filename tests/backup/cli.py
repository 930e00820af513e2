"""Running `luminate backup ...` as a real process with the settings of one test."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.s3 import S3Server
from tests.support.cli import clean_env

_prefixes = itertools.count()

# Longest a backup command may take here.
TIMEOUT_S = 180.0


@dataclass
class BackupCli:
    """The settings of one test: its S3 prefix, its data directory, extra variables."""

    s3: S3Server
    data_dir: Path
    prefix: str = field(default_factory=lambda: f"test-{os.getpid()}-{next(_prefixes)}")
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        key, secret = self.s3.credential_files()
        env = clean_env()
        env.update(
            {
                "LUMINATE_DATA_DIR": str(self.data_dir),
                "LUMINATE_STORAGE_FSYNC": "false",
                "LUMINATE_BACKUP_BUCKET": f"s3://{self.s3.bucket}/{self.prefix}",
                "LUMINATE_BACKUP_S3_ENDPOINT": self.s3.endpoint,
                "LUMINATE_BACKUP_S3_ACCESS_KEY_FILE": str(key),
                "LUMINATE_BACKUP_S3_SECRET_KEY_FILE": str(secret),
                "LUMINATE_BACKUP_RETRY_ATTEMPTS": "2",
                "LUMINATE_BACKUP_TIMEOUT_SECONDS": "120",
                **self.extra,
                **overrides,
            }
        )
        return env

    def run(self, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        """`luminate backup <args>` with extra environment variables, within TIMEOUT_S."""
        timeout_s = TIMEOUT_S
        return subprocess.run(
            [sys.executable, "-m", "luminate", "backup", *args],
            env=self.env(**overrides),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def ok(self, *args: str, **overrides: str) -> dict[str, Any]:
        """Run with --json; the test fails with stderr unless it exits 0."""
        out = self.run(*args, "--json", **overrides)
        assert out.returncode == 0, out.stderr
        parsed: dict[str, Any] = json.loads(out.stdout)
        return parsed


def one_error_line(stderr: str) -> str:
    """The single `luminate backup: ...` line of a failed run (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("luminate backup:")]
    assert len(lines) == 1, stderr
    return lines[0]
