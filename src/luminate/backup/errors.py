"""Backup failures, each with the one-line message an operator reads and the exit code scripts
branch on. Nothing named after boto3, chDB or a ClickHouse driver escapes this package."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What `luminate backup ...` exits with; the wrapper scripts and the CronJob rely on it."""

    DONE = 0
    FAILED = 1
    USAGE = 2
    # Nothing to do (no backup to prune, no backup to verify): not a failure.
    NOTHING_TO_DO = 3


class BackupError(Exception):
    """A backup operation failed; the message names the problem in one line."""

    exit_code = ExitCode.FAILED


class ObjectStoreError(BackupError):
    """The object store refused or could not be reached (credentials, endpoint, bucket)."""


class ManifestError(BackupError):
    """A manifest is missing, unreadable, incomplete or from a newer version."""


class SchemaMismatch(BackupError):
    """The backup's tables do not match the tables they would be restored into."""


class TargetNotEmpty(BackupError):
    """Restoring would overwrite data; the operator has to say so explicitly."""


class VerificationFailed(BackupError):
    """A restored copy differs from what the manifest promised."""


class ServerBusy(BackupError):
    """The embedded store is owned by a running server that cannot be asked to act."""


class UsageError(BackupError):
    exit_code = ExitCode.USAGE
