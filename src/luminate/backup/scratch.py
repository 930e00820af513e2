"""A scratch embedded instance in a child process: restores a backup from S3 into an empty
temporary directory and prints the partition sums as JSON.

chDB holds one data directory per process, and the serving process already owns one, so
verification runs here. The request (S3 clause with credentials included) arrives on stdin,
never on the command line."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence

import msgspec

from luminate.backup.builtin import short
from luminate.backup.errors import BackupError
from luminate.backup.manifest import PartitionSum


class Request(msgspec.Struct, frozen=True):
    source: str  # the S3(...) clause
    database: str
    tables: list[str]
    attempts: int
    timeout_s: float


class Answer(msgspec.Struct, frozen=True):
    partitions: list[PartitionSum] = msgspec.field(default_factory=list)
    error: str = ""


def run(request: Request, timeout_s: float) -> list[PartitionSum]:
    """Restore in a child process; BackupError carries the child's reason."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "luminate.backup.scratch"],
            input=msgspec.json.encode(request),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"scratch restore took longer than {timeout_s:g} s") from None
    try:
        answer = msgspec.json.decode(result.stdout, type=Answer)
    except msgspec.DecodeError:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise BackupError(
            f"scratch restore exited {result.returncode}: {tail[0] if tail else 'no output'}"
        ) from None
    if answer.error:
        raise BackupError(f"restoring into a scratch instance failed: {answer.error}")
    return answer.partitions


def _restore(request: Request, directory: str) -> list[PartitionSum]:
    import chdb  # noqa: PLC0415  (only this child process loads a second engine)

    from luminate.backup import builtin  # noqa: PLC0415
    from luminate.backup.fingerprint import by_partition, columns, part_sums, stored  # noqa: PLC0415
    from luminate.backup.progress import Silent  # noqa: PLC0415

    conn = chdb.connect(directory)  # type: ignore[no-untyped-call]

    def select(sql: str) -> list[list[object]]:
        data = conn.query(sql, "JSONCompact").bytes()
        rows: list[list[object]] = msgspec.json.decode(data or b'{"data": []}')["data"]
        return rows

    def execute(sql: str) -> None:
        conn.query(sql, "CSV")

    scratch = builtin.Target("default", request.tables, None, select, execute)
    operation = "luminate-scratch"
    execute(
        builtin.restore_sql(scratch, request.database, request.source, operation, request.attempts)
    )
    builtin.wait(select, operation, "RESTORE", Silent(), request.timeout_s)
    out: list[PartitionSum] = []
    for table in request.tables:
        cols = stored(columns(select, "default", table))
        out += by_partition(table, 0, part_sums(select, "default", table, cols))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    request = msgspec.json.decode(sys.stdin.buffer.read(), type=Request)
    with tempfile.TemporaryDirectory(prefix="luminate-scratch-") as directory:
        try:
            answer = Answer(partitions=_restore(request, directory))
        except Exception as exc:  # the parent reports it as one line
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            answer = Answer(error=short(text))
    sys.stdout.buffer.write(msgspec.json.encode(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
