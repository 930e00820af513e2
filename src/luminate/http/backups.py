"""The backup routes of `luminate serve` on the embedded store: the process that owns the data
directory takes the backup, so it is consistent while the service runs.

    POST /internal/v1/backups            start a backup (or follow the one running): 202 {job}
    GET  /internal/v1/backups/jobs/{id}  its progress and outcome

Both need `Authorization: Bearer <LUMINATE_BACKUP_TOKEN_FILE's token>`; without that setting
(or on a ClickHouse backend, whose backups do not go through the server) they do not exist."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from luminate.backup import service
from luminate.backup.backends import embedded_backend, object_store
from luminate.backup.errors import UsageError
from luminate.backup.jobs import JobProgress, Jobs
from luminate.backup.tokens import matches, read_token
from luminate.http.responses import JSON
from luminate.model.errors import ErrorCode, NotFound, Unauthorized
from luminate.settings import ConfigError, Settings
from luminate.storage.store import Storage

log = logging.getLogger("luminate.backup")
BACKUPS = "/internal/v1/backups"


class ServerBackups:
    """What the routes need: the settings, the open storage and the job list."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.settings = settings
        self.storage = storage
        self.jobs = Jobs()
        try:
            self.token = (
                read_token(settings.backup_token_file) if settings.backup_token_file else ""
            )
        except UsageError as exc:
            raise ConfigError(str(exc)) from None

    def create(self, progress: JobProgress) -> dict[str, Any]:
        store = object_store(self.settings)
        store.check()
        backend = embedded_backend(self.settings, store, self.storage.engine)
        manifest = service.create(store, backend, progress)
        log.info("backup created", extra={"backup": manifest.id, "bytes": manifest.size_bytes})
        return {"backup": manifest.id, "rows": manifest.rows, "size_bytes": manifest.size_bytes}


def _backups(request: Request) -> ServerBackups:
    backups: ServerBackups | None = getattr(request.app.state, "backups", None)
    if backups is None or not backups.token or backups.storage.backend != "embedded":
        raise NotFound(f"no endpoint at {request.url.path}")
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("the backup routes need the backup token", code=ErrorCode.MISSING_TOKEN)
    if not matches(backups.token, header):
        raise Unauthorized("the backup token does not match")
    return backups


async def start(request: Request) -> JSON:
    backups = _backups(request)
    job, new = backups.jobs.start("backup", backups.create)
    return JSON({"job": msgspec.to_builtins(job), "new": new}, status_code=202)


async def job(request: Request) -> JSON:
    backups = _backups(request)
    found = backups.jobs.get(request.path_params["id"])
    if found is None:
        raise NotFound(f"no backup job {request.path_params['id']!r}")
    return JSON(msgspec.to_builtins(found))


ROUTES = [
    Route(BACKUPS, start, methods=["POST"]),
    Route(BACKUPS + "/jobs/{id}", job, methods=["GET"]),
]
