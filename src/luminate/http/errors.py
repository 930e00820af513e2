"""The one place errors become responses: every `LuminateError` (its code gives the status),
storage failures, the framework's 404/405, anything unexpected, and the write answer whose
every point was refused. Each answer has the single error shape
`{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from luminate.http import dialects
from luminate.http.codec.write import WriteResponse
from luminate.http.responses import JSON
from luminate.model.errors import (
    ErrorCode,
    LuminateError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    UnprocessableQuery,
)
from luminate.model.points import WriteOutcome
from luminate.storage.errors import (
    StorageBudgetExceeded,
    StorageError,
    StorageTimeout,
    StorageUnavailable,
)

log = logging.getLogger("luminate")

# Not sent (the client is gone); recorded in metrics and logs as the client's doing.
CLIENT_CLOSED_REQUEST = 499


class ErrorDetail(msgspec.Struct, forbid_unknown_fields=True):
    code: ErrorCode
    message: str
    details: dict[str, object]


class Error(msgspec.Struct, forbid_unknown_fields=True):
    """The one shape of every error."""

    error: ErrorDetail


class WriteRejected(WriteResponse, forbid_unknown_fields=True):
    """Every point was rejected (`error.code` is all_points_rejected)."""

    error: ErrorDetail


def error_response(exc: LuminateError, headers: dict[str, str] | None = None) -> JSON:
    body = Error(ErrorDetail(exc.code, exc.message, exc.details))
    return JSON(body, status_code=exc.status, headers={**exc.headers, **(headers or {})})


def all_rejected(outcome: WriteOutcome, headers: dict[str, str]) -> JSON:
    """400 for a write none of whose points was accepted: the per-point errors and the error."""
    code = ErrorCode.ALL_POINTS_REJECTED
    detail = ErrorDetail(code, f"all {outcome.rejected} points were rejected; see errors", {})
    body = WriteRejected(outcome.accepted, outcome.rejected, outcome.errors, detail)
    return JSON(body, status_code=LuminateError("", code=code).status, headers=headers)


def storage_error(exc: StorageError) -> LuminateError:
    """What a storage failure means to a client."""
    if isinstance(exc, StorageTimeout):
        return UnprocessableQuery(f"statement exceeded its time budget and was cancelled: {exc}")
    if isinstance(exc, StorageBudgetExceeded):
        return UnprocessableQuery(
            f"statement read more rows than its budget allows: {exc}",
            code=ErrorCode.TOO_MANY_ROWS_SCANNED,
        )
    if isinstance(exc, StorageUnavailable):
        return ServiceUnavailable(f"storage is unavailable: {exc}")
    log.error("storage error", extra={"error": str(exc)[:1000]})
    return LuminateError("storage failed to answer; see server logs")


def unexpected(exc: BaseException, request: Request | None = None) -> Response:
    log.error("unhandled error", exc_info=exc)
    error = LuminateError("internal error; see server logs")
    return error_response(error) if request is None else _answer(request, error)


def _answer(request: Request, exc: LuminateError) -> Response:
    """The error in the route's protocol (Prometheus API, remote_write, OTLP) or Luminate's."""
    spoken = dialects.answer(request, exc)
    return spoken if spoken is not None else error_response(exc)


async def _luminate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LuminateError)
    return _answer(request, exc)


async def _storage_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StorageError)
    return _answer(request, storage_error(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return _answer(
            request,
            MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}; allowed: {allow}",
                headers={"Allow": allow},
                details={"allowed": [m.strip() for m in allow.split(",") if m.strip()]},
            ),
        )
    if exc.status_code == 404:
        return _answer(request, NotFound(f"no endpoint at {request.url.path}"))
    return _answer(request, LuminateError(str(exc.detail)))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return _answer(request, LuminateError("internal error; see server logs"))


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client went away mid-request: nothing to answer, and nothing of ours failed. The
    status is nginx's 499, so metrics and logs count it as the client's."""
    log.info("client disconnected", extra={"path": request.url.path})
    return Response(status_code=CLIENT_CLOSED_REQUEST)


HANDLERS = {
    ClientDisconnect: _client_gone,
    LuminateError: _luminate_error,
    StorageError: _storage_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
