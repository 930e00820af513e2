"""One error family: every failure a client can see is a `LuminateError` with a status and a
stable code. The HTTP layer turns it into the single JSON error shape in one place."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


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
    CORS_NOT_ALLOWED = "cors_not_allowed"
    # routing
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # storage and server
    QUERY_TIMEOUT = "query_timeout"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INTERNAL_ERROR = "internal_error"


class LuminateError(Exception):
    status: int = 500
    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}
        self.headers = headers or {}


class BadRequest(LuminateError):
    status = 400
    code = ErrorCode.INVALID_BODY


class Unauthorized(LuminateError):
    status = 401
    code = ErrorCode.INVALID_TOKEN

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(LuminateError):
    status = 403
    code = ErrorCode.INSUFFICIENT_SCOPE


class NotFound(LuminateError):
    status = 404
    code = ErrorCode.NOT_FOUND


class MethodNotAllowed(LuminateError):
    status = 405
    code = ErrorCode.METHOD_NOT_ALLOWED


class PayloadTooLarge(LuminateError):
    status = 413
    code = ErrorCode.BODY_TOO_LARGE


class UnsupportedMediaType(LuminateError):
    status = 415
    code = ErrorCode.UNSUPPORTED_CONTENT_ENCODING


class ServiceUnavailable(LuminateError):
    status = 503
    code = ErrorCode.STORAGE_UNAVAILABLE

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        retry_after_s: int = 1,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message, code=code, details=details, headers={"Retry-After": str(retry_after_s)}
        )


class UnprocessableQuery(LuminateError):
    """The query is valid but exceeded one of the tenant's query budgets; narrow it."""

    status = 422
    code = ErrorCode.QUERY_TIMEOUT


class TooManyRequests(LuminateError):
    """Over a per-tenant rate or concurrency limit; the headers say when to retry."""

    status = 429
    code = ErrorCode.RATE_LIMITED


class HeadersTooLarge(LuminateError):
    status = 431
    code = ErrorCode.HEADERS_TOO_LARGE
