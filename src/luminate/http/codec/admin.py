"""Administration requests and answers: retention policies and deletions."""

from __future__ import annotations

import msgspec

from luminate.model.catalog import RetentionPolicy
from luminate.model.errors import BadRequest, ErrorCode

MAX_RETENTION_DAYS = 3650


class RetentionIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    days: int
    metric_name: str | None = None


_retention = msgspec.json.Decoder(RetentionIn)


def decode_retention(body: bytes) -> RetentionIn:
    try:
        req = _retention.decode(body)
    except msgspec.ValidationError as exc:
        code = ErrorCode.MISSING_FIELD if "missing required" in str(exc) else ErrorCode.INVALID_BODY
        raise BadRequest(f"invalid retention request: {exc}", code=code) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", code=ErrorCode.MALFORMED_JSON) from None
    except RecursionError:
        raise BadRequest("body is nested too deeply", code=ErrorCode.INVALID_BODY) from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not valid UTF-8: {exc}", code=ErrorCode.MALFORMED_JSON) from None
    if not 1 <= req.days <= MAX_RETENTION_DAYS:
        raise BadRequest(
            f"days must be between 1 and {MAX_RETENTION_DAYS}", code=ErrorCode.INVALID_PARAMETER
        )
    return req


class _Out(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    pass


class RetentionSet(_Out):
    tenant_id: str
    metric_name: str | None
    days: int
    applied: bool


class PolicyOut(_Out):
    metric_name: str | None
    days: int


class RetentionPolicies(_Out):
    tenant_id: str
    policies: list[PolicyOut]


class Deleted(_Out):
    tenant_id: str
    metric_name: str
    deleted_before: int


def policies(tenant: str, rows: list[RetentionPolicy]) -> RetentionPolicies:
    return RetentionPolicies(tenant, [PolicyOut(p.metric, p.days) for p in rows])
