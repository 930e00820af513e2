"""`luminate backup agent`: runs beside one ClickHouse server (a sidecar with the data volume
mounted at the server's own path) for servers without a BACKUP statement. The coordinator
(`luminate backup create|verify|restore`, `freeze.py`) asks one agent per shard to act.

    GET  /healthz            200 while the agent answers (no token: the kubelet probes it)
    GET  /v1/identity        shard and replica (the server's macros), version, table rows
    POST /v1/jobs            {"op": snapshot | stage | promote | discard | sums, ...}: 202 {job}
    GET  /v1/jobs/{id}       progress and outcome

Every other route needs `Authorization: Bearer <LUMINATE_BACKUP_TOKEN_FILE's token>`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from luminate.backup import maintenance, parts
from luminate.backup.backends import object_store
from luminate.backup.definitions import scratch_create
from luminate.backup.jobs import JobProgress, Jobs
from luminate.backup.manifest import StoredObject, TableDef
from luminate.backup.tokens import matches, read_token
from luminate.settings import Settings
from luminate.storage.engine import Engine

log = logging.getLogger("luminate.backup.agent")


class Job(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    op: str
    database: str
    tables: list[str] = msgspec.field(default_factory=list)
    backup_id: str = ""
    shard: int = 0
    stage: str = ""
    definitions: list[TableDef] = msgspec.field(default_factory=list)
    objects: list[StoredObject] = msgspec.field(default_factory=list)
    prefix: str = ""
    force: bool = False


class Agent:
    """The engine is opened on first use, so the agent (and the pod's readiness) does not
    depend on the server being up when the pod starts."""

    def __init__(self, settings: Settings, connect: Callable[[], Engine]) -> None:
        self.settings = settings
        self.token = read_token(settings.backup_token_file)
        self.jobs = Jobs()
        self._connect = connect
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self.server = parts.Server(self._select, self._execute)

    def _select(self, sql: str) -> list[list[Any]]:
        return maintenance.rows(self.engine, sql)

    def _execute(self, sql: str) -> None:
        maintenance.run(self.engine, sql)

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._connect()
            return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()

    def identity(self, database: str, tables: list[str]) -> dict[str, Any]:
        macros = {
            str(k): str(v)
            for k, v in self.server.select("SELECT macro, substitution FROM system.macros")
        }
        return {
            "shard": macros.get("shard", ""),
            "replica": macros.get("replica", ""),
            "version": self.engine.version(),
            "rows": parts.live_rows(self.server, database, tables) if tables else {},
        }

    def run(self, job: Job, progress: JobProgress) -> dict[str, Any]:
        store = object_store(self.settings)
        if job.op == "snapshot":
            shots = [
                parts.snapshot(
                    self.server, store, job.backup_id, job.database, t, job.shard, progress
                )
                for t in job.tables
            ]
            return {
                "version": self.engine.version(),
                "tables": [msgspec.to_builtins(s.table) for s in shots],
                "partitions": [msgspec.to_builtins(p) for s in shots for p in s.partitions],
                "objects": [msgspec.to_builtins(o) for s in shots for o in s.objects],
            }
        if job.op == "stage":
            sums = parts.stage(
                self.server,
                store,
                job.stage,
                job.definitions,
                job.objects,
                job.prefix,
                job.shard,
                lambda t: scratch_create(t.create, job.stage),
                progress,
            )
            return {"partitions": [msgspec.to_builtins(p) for p in sums]}
        if job.op == "promote":
            parts.promote(
                self.server, job.stage, job.database, job.definitions, job.force, progress
            )
            return {}
        if job.op == "discard":
            parts.discard(self.server, job.stage)
            return {}
        if job.op == "sums":
            sums = parts.live_sums(self.server, job.database, job.definitions, job.shard)
            return {"partitions": [msgspec.to_builtins(p) for p in sums]}
        raise ValueError(f"unknown op {job.op!r}")


def _deny(request: Request, agent: Agent) -> JSONResponse | None:
    if matches(agent.token, request.headers.get("authorization")):
        return None
    return _error(401, "invalid_token", "the backup agent needs the backup token")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": {}}}, status)


def create_agent_app(agent: Agent) -> Starlette:
    async def identity(request: Request) -> JSONResponse:
        if denied := _deny(request, agent):
            return denied
        database = request.query_params.get("database", agent.settings.clickhouse_database)
        tables = [t for t in request.query_params.get("tables", "").split(",") if t]
        import asyncio  # noqa: PLC0415

        try:
            found = await asyncio.to_thread(agent.identity, database, tables)
        except Exception as exc:  # reported to the coordinator as one line
            return _error(503, "storage_unavailable", str(exc).splitlines()[0])
        return JSONResponse(found)

    async def start(request: Request) -> JSONResponse:
        if denied := _deny(request, agent):
            return denied
        try:
            job = msgspec.json.decode(await request.body(), type=Job)
        except msgspec.DecodeError as exc:
            return _error(400, "invalid_body", f"not a job: {exc}")
        state, new = agent.jobs.start(job.op, lambda progress: agent.run(job, progress))
        return JSONResponse({"job": msgspec.to_builtins(state), "new": new}, 202)

    async def follow(request: Request) -> JSONResponse:
        if denied := _deny(request, agent):
            return denied
        state = agent.jobs.get(request.path_params["id"])
        if state is None:
            return _error(404, "not_found", f"no job {request.path_params['id']!r}")
        return JSONResponse(msgspec.to_builtins(state))

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/identity", identity, methods=["GET"]),
            Route("/v1/jobs", start, methods=["POST"]),
            Route("/v1/jobs/{id}", follow, methods=["GET"]),
        ]
    )


def serve(settings: Settings) -> None:
    """Serve until SIGTERM. The agent talks to its own server (LUMINATE_CLICKHOUSE_HOSTS)."""
    import uvicorn  # noqa: PLC0415

    from luminate.observability.logging import configure_logging  # noqa: PLC0415
    from luminate.storage.clickhouse import ClickHouseEngine, parse_hosts  # noqa: PLC0415

    configure_logging(settings.log_level)
    hosts = parse_hosts(settings.clickhouse_hosts)
    password = settings.clickhouse_secret()

    def connect() -> Engine:
        return ClickHouseEngine(
            hosts,
            database="default",
            user=settings.clickhouse_username,
            password=password,
            pool_size=1,
            writers=1,
            connect_timeout_s=settings.clickhouse_connect_timeout_seconds,
        )

    agent = Agent(settings, connect)
    log.info("backup agent", extra={"port": settings.backup_agent_port})
    try:
        uvicorn.run(
            create_agent_app(agent),
            host=settings.backup_agent_host,
            port=settings.backup_agent_port,
            log_config=None,
            access_log=False,
        )
    finally:
        agent.close()
