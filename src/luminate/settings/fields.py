"""The one typed settings object: every field, its type, default and description."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from luminate.model.errors import LuminateError

ENV_PREFIX = "LUMINATE_"
CONFIG_FILE_ENV = "LUMINATE_CONFIG_FILE"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
# A period of background work: finite, and at most a day.
Period = Annotated[float, msgspec.Meta(gt=0, le=86_400)]


def _doc(text: str, **extra: Any) -> msgspec.Meta:
    return msgspec.Meta(description=text, extra=extra or None)


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    server_host: Annotated[str, _doc("Address `luminate serve` listens on.")] = "0.0.0.0"  # noqa: S104
    server_port: Annotated[Port, _doc("TCP port `luminate serve` listens on.")] = 8080
    server_internal_port: Annotated[
        Port,
        _doc(
            "TCP port of the internal listener (same address): /metrics and the detailed "
            "/api/v1/health are served only here, the public port answers 404 for them; the "
            "probes answer on both. Must differ from LUMINATE_SERVER_PORT."
        ),
    ] = 8081
    storage_backend: Annotated[
        Literal["embedded", "clickhouse"],
        _doc("`embedded`: the ClickHouse engine in-process (chDB). `clickhouse`: a server."),
    ] = "embedded"
    data_dir: Annotated[
        str, _doc("Directory of the embedded store; one process owns it (a lock file enforces).")
    ] = "./luminate-data"
    storage_promoted_dimensions: Annotated[
        list[str],
        _doc(
            "Dimension keys given their own column at `luminate migrate` (comma list). Not "
            "needed: every key gets its own column when a point first carries it (up to 100 "
            "keys per table); this only creates the columns ahead of time."
        ),
    ] = msgspec.field(default_factory=list)
    storage_fsync: Annotated[
        bool, _doc("fsync every inserted part before a write is acknowledged (power-loss safety).")
    ] = True
    clickhouse_hosts: Annotated[
        list[str],
        _doc(
            "ClickHouse servers as host:port (native protocol, default port 9000), comma list; "
            "connections fail over across them."
        ),
    ] = msgspec.field(default_factory=lambda: ["localhost:9000"])
    clickhouse_database: Annotated[str, _doc("ClickHouse database holding Luminate's tables.")] = (
        "luminate"
    )
    clickhouse_username: Annotated[str, _doc("ClickHouse user.")] = "default"
    clickhouse_password: Annotated[str, _doc("ClickHouse password.", secret=True)] = ""
    clickhouse_password_file: Annotated[
        str, _doc("File holding the ClickHouse password; wins over LUMINATE_CLICKHOUSE_PASSWORD.")
    ] = ""
    clickhouse_cluster: Annotated[
        str,
        _doc(
            "Cluster name in the servers' remote_servers: replicated local tables, a "
            "Distributed table, DDL ON CLUSTER. Empty: one server, plain MergeTree."
        ),
    ] = ""
    clickhouse_insert_quorum: Annotated[
        Literal["majority"] | Annotated[int, msgspec.Meta(ge=1)],
        _doc(
            "On a cluster, a write is acknowledged once this many replicas of its shard hold "
            "it: `majority` of each shard's replicas in system.clusters, or a number (1: once "
            "one replica has it, no quorum). More than a shard's replicas stops `migrate` and "
            "`serve` at start. See docs/operations.md for the trade-off.",
            expect="`majority` or a whole number of replicas, at least 1",
        ),
    ] = "majority"
    clickhouse_insert_quorum_timeout_seconds: Annotated[
        PositiveFloat,
        _doc(
            "How long a write waits for its quorum before it is answered 503 (its batch may "
            "still complete on that shard later)."
        ),
    ] = 10.0
    clickhouse_connect_timeout_seconds: Annotated[
        PositiveFloat, _doc("How long one connection attempt to one host may take.")
    ] = 2.0
    jwt_secret: Annotated[
        str,
        _doc(
            "HS256 signing secret (at least 32 bytes; 48 for HS384, 64 for HS512). Needed only "
            "when an HS algorithm is listed.",
            env="JWT_SECRET",
            secret=True,
        ),
    ] = ""
    jwt_secret_file: Annotated[
        str, _doc("File holding the HS256 secret; wins over JWT_SECRET.", env="JWT_SECRET_FILE")
    ] = ""
    jwt_algorithms: Annotated[
        list[str], _doc("Accepted token algorithms; never taken from the token itself.")
    ] = msgspec.field(default_factory=lambda: ["HS256"])
    jwt_issuer: Annotated[str, _doc("Required `iss` claim, when set.")] = ""
    jwt_audience: Annotated[str, _doc("Required `aud` claim, when set.")] = ""
    jwt_leeway_seconds: Annotated[NonNegative, _doc("Clock skew allowed on `exp`/`nbf`.")] = 30
    jwt_jwks_url: Annotated[
        str,
        _doc(
            "JWKS URL with the public keys of RS256/ES256 tokens (fetched, cached, refetched "
            "when a token names an unknown key)."
        ),
    ] = ""
    jwt_jwks_file: Annotated[
        str, _doc("JWKS file with the public keys of RS256/ES256 tokens (reread when it changes).")
    ] = ""
    jwt_jwks_cache_seconds: Annotated[
        Positive, _doc("How long fetched JWKS keys are used before they are fetched again.")
    ] = 300
    ratelimit_write_rps: Annotated[
        PositiveFloat,
        _doc("Write requests per second per tenant (token bucket; see LUMINATE_LIMITS_MODE)."),
    ] = 100.0
    ratelimit_query_rps: Annotated[
        PositiveFloat,
        _doc("Query and discovery requests per second per tenant (token bucket)."),
    ] = 50.0
    ratelimit_metrics_per_sec: Annotated[
        PositiveFloat,
        _doc("Points written per second per tenant; a write costs its number of points."),
    ] = 10_000.0
    ratelimit_burst_seconds: Annotated[
        PositiveFloat,
        _doc("Burst size: each bucket holds this many seconds of its rate when full."),
    ] = 2.0
    ratelimit_concurrent_queries: Annotated[
        Positive, _doc("Queries one tenant may have running at once (see LUMINATE_LIMITS_MODE).")
    ] = 10
    limits_overrides_file: Annotated[
        str,
        _doc(
            "YAML file of per-tenant and per-tier limit overrides (reread when it changes); "
            "see docs/limits.md."
        ),
    ] = ""
    limits_mode: Annotated[
        Literal["global", "local"],
        _doc(
            "`global`: rates and concurrent queries are divided among the live processes "
            "sharing the storage, and series are counted across them. `local`: each process "
            "applies the limits by itself. See docs/limits.md."
        ),
    ] = "global"
    limits_heartbeat_interval_seconds: Annotated[
        Period,
        _doc("How often each process records in storage that it is alive (with 20% jitter)."),
    ] = 5.0
    limits_heartbeat_timeout_seconds: Annotated[
        Period,
        _doc(
            "A process silent for this long no longer counts; a process that cannot reach the "
            "heartbeat table for this long falls back to local limits. At least twice the "
            "heartbeat interval."
        ),
    ] = 30.0
    limits_series_sync_interval_seconds: Annotated[
        Period,
        _doc(
            "How often each process saves its series counts to storage and merges those of the "
            "others (new series admitted since the last save are lost at a crash)."
        ),
    ] = 15.0
    cardinality_max_series: Annotated[
        Positive,
        _doc(
            "Distinct series per tenant (HyperLogLog estimate within the window) before new "
            "series are rejected."
        ),
    ] = 1_000_000
    cardinality_max_series_per_metric: Annotated[
        NonNegative, _doc("Distinct series per metric of a tenant; 0 means no per-metric limit.")
    ] = 0
    cardinality_window_seconds: Annotated[
        Positive, _doc("Series count as active for this long; the count restarts each window.")
    ] = 86_400
    write_max_body_bytes: Annotated[
        Positive, _doc("Largest write body accepted, measured after decompression.")
    ] = 16 * 1024 * 1024
    write_max_points: Annotated[Positive, _doc("Most points in one write request.")] = 50_000
    write_max_age_seconds: Annotated[
        Positive, _doc("Oldest timestamp accepted, relative to now.")
    ] = 7 * 24 * 3600
    write_max_future_seconds: Annotated[
        NonNegative, _doc("Furthest future timestamp accepted, relative to now.")
    ] = 3600
    write_dedup_window_seconds: Annotated[
        NonNegativeFloat,
        _doc(
            "A write identical to one stored this recently (same tenant, same decoded body) is "
            "a retry: answered as stored, not stored again. 0 turns this off."
        ),
    ] = 600.0
    write_batch_max_points: Annotated[
        Positive, _doc("Group commit: most points in one storage insert.")
    ] = 200_000
    write_concurrent_inserts: Annotated[
        Positive, _doc("Group commit: storage inserts that may run at the same time.")
    ] = 2
    write_batch_max_delay_ms: Annotated[
        NonNegative,
        _doc(
            "Group commit: longest an insert waits for write requests that are arriving (being "
            "read or decoded) to join it. With none arriving it is made at once."
        ),
    ] = 25
    query_default_limit: Annotated[Positive, _doc("Rows returned when a query sets no limit.")] = (
        1000
    )
    query_max_limit: Annotated[Positive, _doc("Largest `limit` a query may ask for.")] = 100_000
    query_default_timeout_seconds: Annotated[
        PositiveFloat, _doc("Query timeout when a query sets none.")
    ] = 10.0
    query_max_timeout_seconds: Annotated[
        PositiveFloat, _doc("Largest `timeout` a query may ask for.")
    ] = 60.0
    query_max_buckets: Annotated[
        Positive, _doc("Most time buckets (range / interval) one query may produce.")
    ] = 10_000
    query_max_range_seconds: Annotated[
        Positive, _doc("Longest time range one query may cover (query budget).")
    ] = 90 * 86_400
    query_max_rows_scanned: Annotated[
        Positive,
        _doc("Most stored points one query may read (query budget, enforced by the engine)."),
    ] = 500_000_000
    query_concurrency: Annotated[
        Positive, _doc("Queries the storage engine runs at once in this process.")
    ] = 4
    readiness_timeout_ms: Annotated[
        Positive, _doc("How long /readyz waits for storage before answering 503.")
    ] = 1000
    storage_probe_interval_seconds: Annotated[
        PositiveFloat,
        _doc(
            "How often a background check refreshes luminate_storage_up (reads and writes "
            "possible) and the ClickHouse replica and parts gauges."
        ),
    ] = 5.0
    shutdown_delay_seconds: Annotated[
        float,
        _doc(
            "After SIGTERM, keep serving (with /readyz at 503) this long before closing the "
            "listener. Kubernetes' preStop sleep usually covers this; 0 is fine there."
        ),
    ] = 0.0
    shutdown_timeout_seconds: Annotated[
        PositiveFloat, _doc("Longest wait for in-flight requests after the listener closes.")
    ] = 30.0
    retention_check_interval_seconds: Annotated[
        Positive, _doc("How often retention policies are applied.")
    ] = 3600
    http_max_header_bytes: Annotated[
        Positive, _doc("Largest request head (request line and headers) accepted.")
    ] = 16 * 1024
    http_head_timeout_seconds: Annotated[
        PositiveFloat,
        _doc(
            "Longest a connection may take to send a complete request head (also the longest "
            "a new connection may stay silent); then it is answered 408 and closed."
        ),
    ] = 10.0
    http_body_timeout_seconds: Annotated[
        PositiveFloat,
        _doc(
            "Longest wait for the next bytes of a request body; then 408 and the connection "
            "is closed."
        ),
    ] = 30.0
    http_max_connections: Annotated[
        Positive,
        _doc("Open connections one process accepts; one more is answered 503 and closed."),
    ] = 1000
    query_max_body_bytes: Annotated[
        Positive, _doc("Largest body of a query or admin request, after decompression.")
    ] = 64 * 1024
    cors_allowed_origins: Annotated[
        list[str],
        _doc("Origins browsers may call the API from (comma list; `*` for any). Empty: no CORS."),
    ] = msgspec.field(default_factory=list)
    cors_max_age_seconds: Annotated[
        NonNegative, _doc("How long browsers may cache a CORS preflight answer.")
    ] = 600
    admin_impersonation: Annotated[
        Literal["all_endpoints", "admin_endpoints", "off"],
        _doc(
            "Where an admin token may act as another tenant with ?tenant=: on every endpoint, "
            "only on the admin endpoints, or nowhere. Every such request is logged and counted."
        ),
    ] = "all_endpoints"
    environment: Annotated[
        str,
        _doc(
            "Deployment environment name (production, staging, ...), logged and exported "
            "in luminate_build_info.",
            env="ENVIRONMENT",
        ),
    ] = "production"
    backup_bucket: Annotated[
        str,
        _doc(
            "S3 bucket backups go to, as `s3://bucket/prefix`, `bucket/prefix` or `bucket` "
            "(scripts/backup-clickhouse.sh fills it from the seed's BACKUP_BUCKET)."
        ),
    ] = ""
    backup_prefix: Annotated[
        str, _doc("Key prefix of the backups in the bucket, when the bucket names none.")
    ] = "luminate"
    backup_s3_endpoint: Annotated[
        str,
        _doc("S3 endpoint URL of an S3-compatible server; empty: AWS S3 in the region."),
    ] = ""
    backup_s3_region: Annotated[str, _doc("S3 region of the bucket.")] = "us-east-1"
    backup_s3_access_key_file: Annotated[
        str,
        _doc(
            "File holding the S3 access key id (a mounted Secret). Empty with the secret key "
            "file empty too: the pod's IAM role or the AWS_* chain."
        ),
    ] = ""
    backup_s3_secret_key_file: Annotated[
        str, _doc("File holding the S3 secret access key (a mounted Secret).")
    ] = ""
    backup_retention_days: Annotated[
        Positive,
        _doc("`backup prune` deletes backups older than this, never the newest complete one."),
    ] = 30
    backup_retry_attempts: Annotated[
        Positive, _doc("Attempts per S3 request before a backup or restore step fails.")
    ] = 5
    backup_timeout_seconds: Annotated[
        Positive, _doc("Longest one backup, verification or restore step may take.")
    ] = 6 * 3600
    backup_verify: Annotated[
        bool, _doc("`backup create` restores every new backup into a scratch copy and checks it.")
    ] = True
    backup_pushgateway_url: Annotated[
        str,
        _doc(
            "Prometheus Pushgateway the backup job pushes its metrics to "
            "(job=luminate-backup); empty: no push."
        ),
    ] = ""
    backup_token_file: Annotated[
        str,
        _doc(
            "File holding the shared token of the backup routes of `luminate serve` "
            "(embedded store) and of `luminate backup agent`; empty: those routes are off."
        ),
    ] = ""
    backup_server_url: Annotated[
        str,
        _doc(
            "Internal URL of the running `luminate serve` that owns the embedded store; "
            "`backup create` asks it to take the backup when the store is in use."
        ),
    ] = ""
    backup_agent_urls: Annotated[
        list[str],
        _doc(
            "Backup agents beside the ClickHouse servers (comma list of URLs), for servers "
            "without a BACKUP statement: one replica per shard is frozen and uploaded by its agent."
        ),
    ] = msgspec.field(default_factory=list)
    backup_agent_port: Annotated[Port, _doc("Port `luminate backup agent` listens on.")] = 9465
    backup_agent_host: Annotated[str, _doc("Address `luminate backup agent` listens on.")] = (
        "0.0.0.0"  # noqa: S104
    )
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"], _doc("Lowest level logged (JSON lines).")
    ] = "info"

    def __post_init__(self) -> None:
        # Checks between settings; msgspec reports a ValueError here as an invalid setting.
        if self.limits_heartbeat_timeout_seconds < 2 * self.limits_heartbeat_interval_seconds:
            raise ValueError(
                "LUMINATE_LIMITS_HEARTBEAT_TIMEOUT_SECONDS "
                f"({self.limits_heartbeat_timeout_seconds:g}) must be at least twice "
                "LUMINATE_LIMITS_HEARTBEAT_INTERVAL_SECONDS "
                f"({self.limits_heartbeat_interval_seconds:g}), or one late heartbeat would "
                "drop a live process"
            )

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for `config show` and logs."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        for spec in describe():
            if spec.secret and out.get(spec.field):
                out[spec.field] = "********"
        return out

    def secret(self) -> str:
        """The HS256 secret: from the file when one is named, else from JWT_SECRET."""
        if self.jwt_secret_file:
            try:
                return Path(self.jwt_secret_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"JWT_SECRET_FILE {self.jwt_secret_file!r}: {exc}") from exc
        return self.jwt_secret

    def clickhouse_secret(self) -> str:
        """The ClickHouse password: from the file when one is named, else from the variable."""
        if self.clickhouse_password_file:
            try:
                return Path(self.clickhouse_password_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"LUMINATE_CLICKHOUSE_PASSWORD_FILE {self.clickhouse_password_file!r}: {exc}"
                ) from exc
        return self.clickhouse_password


class ConfigError(LuminateError):
    """Invalid configuration: the process refuses to start."""


class SettingSpec(msgspec.Struct, frozen=True):
    field: str
    env: str
    type: str
    default: Any
    description: str
    secret: bool
    # What a value must look like, where msgspec's own message would be cryptic (unions).
    expect: str = ""


def describe() -> list[SettingSpec]:
    """Every setting with its environment name, type, default and description."""
    info = msgspec.inspect.type_info(Settings)
    assert isinstance(info, msgspec.inspect.StructType)
    specs = []
    for f in info.fields:
        meta = _meta_of(f.type)
        extra = (meta.extra or {}) if meta else {}
        schema = (meta.extra_json_schema or {}) if meta else {}
        default = f.default if f.default is not msgspec.NODEFAULT else None
        if f.default_factory is not msgspec.NODEFAULT:
            default = f.default_factory()
        specs.append(
            SettingSpec(
                field=f.name,
                env=extra.get("env", ENV_PREFIX + f.name.upper()),
                type=_type_name(f.type),
                default=default,
                description=str(schema.get("description", "")),
                secret=bool(extra.get("secret", False)),
                expect=str(extra.get("expect", "")),
            )
        )
    return specs


def _meta_of(t: msgspec.inspect.Type) -> msgspec.inspect.Metadata | None:
    return t if isinstance(t, msgspec.inspect.Metadata) else None


def _type_name(t: msgspec.inspect.Type) -> str:
    while isinstance(t, msgspec.inspect.Metadata):
        t = t.type
    if isinstance(t, msgspec.inspect.LiteralType):
        return " | ".join(str(v) for v in t.values)
    if isinstance(t, msgspec.inspect.ListType):
        return "list (comma separated)"
    if isinstance(t, msgspec.inspect.UnionType):
        return " | ".join(_type_name(member) for member in t.types)
    return type(t).__name__.removesuffix("Type").lower()
