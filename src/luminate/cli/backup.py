"""`luminate backup create | list | verify | restore | prune | agent`.

Output: progress on stderr (a bar on a terminal, lines in logs), the result on stdout (a line
of text, or one JSON object with --json). Exit codes: 0 done, 1 failed, 2 usage or
configuration error, 3 nothing to do (no backup to verify, nothing to prune)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec

from luminate.backup import catalog, metrics, service
from luminate.backup.backends import object_store
from luminate.backup.errors import BackupError, ExitCode, UsageError
from luminate.backup.manifest import Manifest
from luminate.backup.progress import Progress, for_terminal
from luminate.model.errors import LuminateError
from luminate.settings import ConfigError, Settings, load_settings
from luminate.storage.errors import StorageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup", help="backups to S3: create, list, verify, restore, prune; the agent"
    ).add_subparsers()

    def command(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        p = backup.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="print the result as one JSON object")
        p.set_defaults(run=lambda args: _guarded(run, args))
        return p

    create = command(
        "create", "take a backup, then verify it (settings: LUMINATE_BACKUP_*)", _create
    )
    create.add_argument("--no-verify", action="store_true", help="skip the scratch restore")
    create.add_argument(
        "--prune",
        action="store_true",
        help="then delete backups past the retention (nothing to delete is not a failure)",
    )
    command("list", "list backups (complete ones unless --all)", _list).add_argument(
        "--all", action="store_true", help="also failed and incomplete backups"
    )
    verify = command("verify", "restore a backup into a scratch copy and compare it", _verify)
    verify.add_argument("backup", nargs="?", help="backup id (default: the newest complete one)")
    restore = command("restore", "restore a backup into the live tables", _restore)
    restore.add_argument("backup", help="backup id, or `latest` for the newest complete one")
    restore.add_argument(
        "--force", action="store_true", help="replace the contents of non-empty tables"
    )
    prune = command("prune", "delete backups older than the retention", _prune)
    prune.add_argument("--dry-run", action="store_true", help="only print what would go")
    prune.add_argument(
        "--now", help="judge ages as of this RFC 3339 time instead of the clock (rehearsals)"
    )
    agent = backup.add_parser(
        "agent", help="serve the backup agent beside a ClickHouse server (its data mounted)"
    )
    agent.set_defaults(run=lambda args: _guarded(_agent, args))


def _terminated(signum: int, frame: object) -> None:
    # A Job past its deadline gets SIGTERM: unwind, so that paused merges are resumed and a
    # failed run is cleaned up and reported.
    raise BackupError(f"stopped by signal {signal.Signals(signum).name}")


def _guarded(run: Any, args: argparse.Namespace) -> int:
    """One line on stderr and a meaningful exit code for every failure, never a traceback."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    try:
        code: int = run(args)
    except (ConfigError, UsageError) as exc:
        print(f"luminate backup: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except (BackupError, StorageError, LuminateError) as exc:
        print(f"luminate backup: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", ExitCode.FAILED)
    return code


def _emit(args: argparse.Namespace, text: str, data: dict[str, Any]) -> None:
    if args.json:
        print(msgspec.json.encode(data).decode())
    else:
        print(text)


def _summary(m: Manifest) -> dict[str, Any]:
    return {
        "id": m.id,
        "status": m.status.value,
        "backend": m.backend,
        "strategy": m.strategy.value,
        "server_version": m.server_version,
        "schema_version": m.schema_version,
        "started_at": m.started_at,
        "finished_at": m.finished_at,
        "rows": m.rows,
        "size_bytes": m.size_bytes,
        "partitions": len(m.partitions),
        "error": m.error,
    }


@contextmanager
def _backend(settings: Settings, store: Any, *, need_live: bool) -> Iterator[service.Backend]:
    from luminate.cli.backup_backend import open_backend  # noqa: PLC0415  (loads engines)

    backend, close = open_backend(settings, store, need_live=need_live)
    try:
        yield backend
    finally:
        close()


def _create(args: argparse.Namespace) -> int:
    settings = load_settings()
    progress = for_terminal(args.json)
    began = time.monotonic()
    backend_name = settings.storage_backend
    try:
        store = object_store(settings)
        store.check()
        manifest = _take(settings, store, progress)
        if settings.backup_verify and not args.no_verify:
            with _backend(settings, store, need_live=False) as backend:
                try:
                    service.verify(backend, manifest, progress)
                except BackupError as exc:
                    service.mark_failed(store, manifest, str(exc))
                    raise
    except Exception:
        _push(settings, backend_name, False, time.monotonic() - began, 0, progress)
        raise
    _push(settings, backend_name, True, time.monotonic() - began, manifest.size_bytes, progress)
    pruned: list[str] = []
    if args.prune:
        pruned = [e.id for e in service.prune(store, settings.backup_retention_days).deleted]
        for backup_id in pruned:
            progress.step(f"pruned {backup_id} (older than {settings.backup_retention_days} days)")
    verified = " and verified" if settings.backup_verify and not args.no_verify else ""
    _emit(
        args,
        f"backup {manifest.id} complete{verified}: {manifest.rows} rows, "
        f"{manifest.size_bytes} bytes" + (f"; pruned {', '.join(pruned)}" if pruned else ""),
        {**_summary(manifest), "pruned": pruned},
    )
    return ExitCode.DONE


def _take(settings: Settings, store: Any, progress: Progress) -> Manifest:
    """The backup itself: here, or by the server that owns the embedded store."""
    from luminate.backup.backends import store_owner  # noqa: PLC0415

    if settings.storage_backend == "embedded":
        owner = store_owner(settings.data_dir)
        if owner is not None:
            return _ask_server(settings, store, owner, progress)
    with _backend(settings, store, need_live=True) as backend:
        return service.create(store, backend, progress)


def _ask_server(settings: Settings, store: Any, owner: int, progress: Progress) -> Manifest:
    from luminate.backup.remote import Remote  # noqa: PLC0415
    from luminate.backup.tokens import read_token  # noqa: PLC0415
    from luminate.http.backups import BACKUPS  # noqa: PLC0415

    if not settings.backup_server_url:
        raise BackupError(
            f"the embedded store in {settings.data_dir!r} is owned by a running process "
            f"(pid {owner}); set LUMINATE_BACKUP_SERVER_URL (and LUMINATE_BACKUP_TOKEN_FILE) "
            "so that it takes the backup, or stop it"
        )
    remote = Remote(settings.backup_server_url, read_token(settings.backup_token_file))
    progress.step(f"the store is in use (pid {owner}); asking {remote.base_url} to back it up")
    started = remote.call("POST", BACKUPS, {})
    result = remote.follow(
        BACKUPS + "/jobs", started["job"], progress, settings.backup_timeout_seconds
    )
    return catalog.read(store, str(result["backup"]))


def _push(
    settings: Settings,
    backend: str,
    ok: bool,
    duration_s: float,
    size: int,
    progress: Progress,
) -> None:
    if not settings.backup_pushgateway_url:
        return
    outcome = metrics.Outcome(backend, ok, time.time(), duration_s, size)
    try:
        metrics.push(settings.backup_pushgateway_url, outcome)
    except metrics.MetricsPushError as exc:
        # The backup's own result stands; the missing push shows as a stale backup alert.
        progress.step(f"warning: {exc}")
        print(f"luminate backup: warning: {exc}", file=sys.stderr)


def _list(args: argparse.Namespace) -> int:
    store = object_store(load_settings())
    shown = [e for e in catalog.entries(store) if args.all or e.restorable]
    rows = []
    for e in shown:
        m = e.manifest
        rows.append(
            {
                "id": e.id,
                "state": e.state,
                "restorable": e.restorable,
                "started_at": e.started.isoformat().replace("+00:00", "Z"),
                "rows": m.rows if m else None,
                "size_bytes": m.size_bytes if m else None,
                "backend": m.backend if m else None,
                "error": (m.error if m else e.problem) or None,
            }
        )
    if args.json:
        print(msgspec.json.encode({"backups": rows}).decode())
        return ExitCode.DONE
    if not rows:
        print(f"no {'' if args.all else 'complete '}backups in {store.location.describe()}")
    for r in rows:
        size = "-" if r["size_bytes"] is None else f"{r['size_bytes']} B"
        count = "-" if r["rows"] is None else f"{r['rows']} rows"
        note = f"  {r['error']}" if r["error"] else ""
        print(f"{r['id']}  {r['state']:<10} {r['backend'] or '-':<10} {count:>14} {size:>14}{note}")
    return ExitCode.DONE


def _verify(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = object_store(settings)
    if args.backup is None and not any(e.restorable for e in catalog.entries(store)):
        print(
            f"luminate backup: no complete backup in {store.location.describe()} to verify",
            file=sys.stderr,
        )
        return ExitCode.NOTHING_TO_DO
    manifest = catalog.restorable(store, args.backup)
    progress = for_terminal(args.json)
    with _backend(settings, store, need_live=False) as backend:
        service.verify(backend, manifest, progress)
    _emit(args, f"backup {manifest.id} verified", {**_summary(manifest), "verified": True})
    return ExitCode.DONE


def _restore(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = object_store(settings)
    manifest = catalog.restorable(store, None if args.backup == "latest" else args.backup)
    progress = for_terminal(args.json)
    with _backend(settings, store, need_live=True) as backend:
        rows = service.restore(backend, manifest, args.force, progress)
    _emit(
        args,
        f"restored backup {manifest.id}: {rows} rows; counts and checksums match the manifest",
        {**_summary(manifest), "restored_rows": rows},
    )
    return ExitCode.DONE


def _prune(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = object_store(settings)
    now = _when(args.now) if args.now else datetime.now(UTC)
    days = settings.backup_retention_days
    if args.dry_run:
        from luminate.backup.retention import expired  # noqa: PLC0415

        doomed = expired(catalog.entries(store), now, days)
        result = service.Pruned(doomed, [])
    else:
        result = service.prune(store, days, clock=lambda: now)
    verb = "would delete" if args.dry_run else "deleted"
    if args.json:
        print(
            msgspec.json.encode(
                {
                    verb.replace(" ", "_"): [e.id for e in result.deleted],
                    "kept": [e.id for e in result.kept],
                    "retention_days": days,
                }
            ).decode()
        )
    else:
        for e in result.deleted:
            print(f"{verb} {e.id} ({e.state}, started {e.started:%Y-%m-%d %H:%M}Z)")
        if not result.deleted:
            print(f"nothing older than {days} days to delete")
    return ExitCode.DONE if result.deleted else ExitCode.NOTHING_TO_DO


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--now must be an RFC 3339 time like 2026-12-06T02:00:00Z, not {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(f"--now needs a time zone (Z or +00:00): {text!r}")
    return moment


def _agent(args: argparse.Namespace) -> int:
    from luminate.backup.agent import serve  # noqa: PLC0415

    serve(load_settings())
    return ExitCode.DONE
