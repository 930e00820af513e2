"""The naming rules every way in shares: metric names and dimension keys, and the size limits of
names, keys, values and dimension sets (DESIGN §1)."""

from __future__ import annotations

import re

from luminate.model.errors import BadRequest, ErrorCode

NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_NAME = 256
MAX_KEY = 128
MAX_VALUE = 256
MAX_DIMENSIONS = 20


def is_metric_name(name: str) -> bool:
    return len(name) <= MAX_NAME and NAME.fullmatch(name) is not None


def is_dimension_key(key: str) -> bool:
    return len(key) <= MAX_KEY and NAME.fullmatch(key) is not None


def is_dimension_value(value: str) -> bool:
    return 0 < len(value) <= MAX_VALUE


def check_metric_name(name: str) -> str:
    """`name`, or BadRequest(invalid_metric_name)."""
    if not is_metric_name(name):
        raise BadRequest(
            f"metric name {name[:64]!r} must match {NAME.pattern} (at most {MAX_NAME} characters)",
            code=ErrorCode.INVALID_METRIC_NAME,
        )
    return name


def check_dimension_key(key: str, code: ErrorCode) -> str:
    """`key`, or BadRequest with `code` (the caller's context: a filter, a groupBy, a path)."""
    if not is_dimension_key(key):
        raise BadRequest(
            f"dimension key {key[:64]!r} must match {NAME.pattern} (at most {MAX_KEY} characters)",
            code=code,
        )
    return key
