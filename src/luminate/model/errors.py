"""One error family: every failure a client can see is a `LuminateError` with a stable code, and
every code has exactly one HTTP status (`STATUS`). `luminate.http.errors` turns errors into the
single JSON error shape; nothing else builds error responses."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable codes. Clients match on these; renaming one is a breaking change."""

    # request body and transport
    MALFORMED_JSON = "malformed_json"
    INVALID_BODY = "invalid_body"
    BODY_TOO_LARGE = "body_too_large"
    TOO_MANY_POINTS = "too_many_points"
    UNSUPPORTED_CONTENT_ENCODING = "unsupported_content_encoding"
    INVALID_COMPRESSED_BODY = "invalid_compressed_body"
    ALL_POINTS_REJECTED = "all_points_rejected"
    # remote_write: some samples were refused (the others were stored), as Mimir answers
    SAMPLES_REJECTED = "samples_rejected"
    # query model
    UNKNOWN_QUERY_TYPE = "unknown_query_type"
    UNKNOWN_AGGREGATION = "unknown_aggregation"
    MISSING_FIELD = "missing_field"
    INVALID_METRIC_NAME = "invalid_metric_name"
    INVALID_TIME = "invalid_time"
    INVALID_TIME_RANGE = "invalid_time_range"
    INVALID_DURATION = "invalid_duration"
    INVALID_FILTER = "invalid_filter"
    INVALID_GROUP_BY = "invalid_group_by"
    INVALID_LIMIT = "invalid_limit"
    INVALID_TIMEOUT = "invalid_timeout"
    INVALID_PARAMETER = "invalid_parameter"
    TOO_MANY_BUCKETS = "too_many_buckets"
    TIME_RANGE_TOO_LONG = "time_range_too_long"
    NOT_APPLICABLE = "not_applicable"
    # PromQL: not parsable (400), parsable but not supported here (422), failed while
    # evaluating (422, e.g. a many-to-many match), more series than the query budget (422)
    INVALID_PROMQL = "invalid_promql"
    UNSUPPORTED_PROMQL = "unsupported_promql"
    PROMQL_EXECUTION = "promql_execution"
    TOO_MANY_SERIES = "too_many_series"
    # auth
    MISSING_TOKEN = "missing_token"  # noqa: S105  (an error code, not a credential)
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    INSUFFICIENT_SCOPE = "insufficient_scope"
    # tenant limits (429: retry later) and query budgets (4xx: change the query)
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CONCURRENT_QUERIES = "too_many_concurrent_queries"
    TOO_MANY_ROWS_SCANNED = "too_many_rows_scanned"
    # transport
    HEADERS_TOO_LARGE = "headers_too_large"
    MALFORMED_REQUEST = "malformed_request"
    REQUEST_TIMEOUT = "request_timeout"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    CORS_NOT_ALLOWED = "cors_not_allowed"
    # routing
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # storage and server
    QUERY_TIMEOUT = "query_timeout"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INTERNAL_ERROR = "internal_error"


# The one status of each code. `query_timeout` and `too_many_rows_scanned` are 422, not 504:
# both mean the query exceeded the tenant's own budget (its `timeout` or the tenant's maximum),
# so the same query fails again on retry, and a 5xx would count against the service's error
# ratio (and page) for what is a client's oversized query.
STATUS: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.INVALID_BODY: 400,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.TOO_MANY_POINTS: 400,
    ErrorCode.UNSUPPORTED_CONTENT_ENCODING: 415,
    ErrorCode.INVALID_COMPRESSED_BODY: 400,
    ErrorCode.ALL_POINTS_REJECTED: 400,
    ErrorCode.SAMPLES_REJECTED: 400,
    ErrorCode.UNKNOWN_QUERY_TYPE: 400,
    ErrorCode.UNKNOWN_AGGREGATION: 400,
    ErrorCode.MISSING_FIELD: 400,
    ErrorCode.INVALID_METRIC_NAME: 400,
    ErrorCode.INVALID_TIME: 400,
    ErrorCode.INVALID_TIME_RANGE: 400,
    ErrorCode.INVALID_DURATION: 400,
    ErrorCode.INVALID_FILTER: 400,
    ErrorCode.INVALID_GROUP_BY: 400,
    ErrorCode.INVALID_LIMIT: 400,
    ErrorCode.INVALID_TIMEOUT: 400,
    ErrorCode.INVALID_PARAMETER: 400,
    ErrorCode.TOO_MANY_BUCKETS: 400,
    ErrorCode.TIME_RANGE_TOO_LONG: 400,
    ErrorCode.NOT_APPLICABLE: 400,
    ErrorCode.INVALID_PROMQL: 400,
    ErrorCode.UNSUPPORTED_PROMQL: 422,
    ErrorCode.PROMQL_EXECUTION: 422,
    ErrorCode.TOO_MANY_SERIES: 422,
    ErrorCode.MISSING_TOKEN: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.INSUFFICIENT_SCOPE: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TOO_MANY_CONCURRENT_QUERIES: 429,
    ErrorCode.TOO_MANY_ROWS_SCANNED: 422,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.TOO_MANY_CONNECTIONS: 503,
    ErrorCode.CORS_NOT_ALLOWED: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.QUERY_TIMEOUT: 422,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}


class LuminateError(Exception):
    """An error a client sees: a stable code (whose status `STATUS` gives), a message naming the
    problem, details for programs, and headers the answer must carry."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return STATUS[self.code]


class BadRequest(LuminateError):
    code = ErrorCode.INVALID_BODY


class Unauthorized(LuminateError):
    code = ErrorCode.INVALID_TOKEN

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(LuminateError):
    code = ErrorCode.INSUFFICIENT_SCOPE


class NotFound(LuminateError):
    code = ErrorCode.NOT_FOUND


class MethodNotAllowed(LuminateError):
    code = ErrorCode.METHOD_NOT_ALLOWED


class PayloadTooLarge(LuminateError):
    code = ErrorCode.BODY_TOO_LARGE


class UnsupportedMediaType(LuminateError):
    code = ErrorCode.UNSUPPORTED_CONTENT_ENCODING


class ServiceUnavailable(LuminateError):
    code = ErrorCode.STORAGE_UNAVAILABLE

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        retry_after_s: int = 1,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(
            message, code=code, details=details, headers={"Retry-After": str(retry_after_s)}
        )


class UnprocessableQuery(LuminateError):
    """The query is valid but exceeded one of the tenant's query budgets; narrow it."""

    code = ErrorCode.QUERY_TIMEOUT


class TooManyRequests(LuminateError):
    """Over a per-tenant rate or concurrency limit; the headers say when to retry."""

    code = ErrorCode.RATE_LIMITED


class HeadersTooLarge(LuminateError):
    """The request head is over the limit; the connection is closed after the answer."""

    code = ErrorCode.HEADERS_TOO_LARGE

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message, details=details, headers={"Connection": "close"})


class RequestTimeout(LuminateError):
    """The client stopped sending its request; the connection is closed after the answer."""

    code = ErrorCode.REQUEST_TIMEOUT

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message, details=details, headers={"Connection": "close"})
