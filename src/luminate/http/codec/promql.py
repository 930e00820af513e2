"""The Prometheus HTTP API's requests decoded into the PromQL model: the query text parsed by
`promql-parser` and translated node by node (a construct the engine does not evaluate is refused
here, named), times and durations in Prometheus' spellings, and answers encoded in its
envelope."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import promql_parser as pp

from luminate.model.errors import BadRequest, ErrorCode, UnprocessableQuery
from luminate.model.promql import (
    MAX_POINTS_PER_SERIES,
    NAME_LABEL,
    Aggregate,
    Binary,
    Call,
    Card,
    Expr,
    Labels,
    Matcher,
    MatchOp,
    Negate,
    Number,
    Selector,
    String,
)
from luminate.model.time import MAX_MS, MIN_MS, parse_time

MAX_QUERY_CHARS = 64 * 1024
# The parser's enums are not hashable: matched by equality.
_OPS = (
    (pp.MatchOp.Equal, MatchOp.EQ),
    (pp.MatchOp.NotEqual, MatchOp.NE),
    (pp.MatchOp.Re, MatchOp.RE),
    (pp.MatchOp.NotRe, MatchOp.NRE),
)
_CARDS = (
    (pp.VectorMatchCardinality.OneToOne, Card.ONE_TO_ONE),
    (pp.VectorMatchCardinality.ManyToOne, Card.MANY_TO_ONE),
    (pp.VectorMatchCardinality.OneToMany, Card.ONE_TO_MANY),
    (pp.VectorMatchCardinality.ManyToMany, Card.MANY_TO_MANY),
)


def _lookup(pairs: tuple[tuple[Any, Any], ...], key: Any) -> Any:
    return next(ours for theirs, ours in pairs if theirs == key)


def bad(message: str) -> BadRequest:
    return BadRequest(message, code=ErrorCode.INVALID_PROMQL)


def unsupported(what: str) -> UnprocessableQuery:
    return UnprocessableQuery(
        f"{what} is not supported by Luminate's PromQL engine (see docs/integrations.md)",
        code=ErrorCode.UNSUPPORTED_PROMQL,
    )


def parse(text: str) -> Expr:
    if not text.strip():
        raise bad("query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise bad(f"query is longer than {MAX_QUERY_CHARS} characters")
    try:
        tree = pp.parse(text)
    except (ValueError, RuntimeError, OverflowError) as exc:
        raise bad(f"parse error: {exc}") from None
    return _expr(tree)


def _ms(delta: timedelta | None) -> int:
    return 0 if delta is None else round(delta.total_seconds() * 1000)


def _selector(node: pp.VectorSelector, range_ms: int | None = None) -> Selector:
    if node.at is not None:
        raise unsupported("the @ modifier")
    if node.matchers.or_matchers:
        raise unsupported("'or' between label matchers")
    matchers = [Matcher(m.name, _lookup(_OPS, m.op), m.value) for m in node.matchers.matchers]
    if node.name is not None:
        matchers.insert(0, Matcher(NAME_LABEL, MatchOp.EQ, node.name))
    return Selector(tuple(matchers), _ms(node.offset), range_ms)


def _expr(node: Any) -> Expr:
    if isinstance(node, pp.ParenExpr):
        return _expr(node.expr)
    if isinstance(node, pp.NumberLiteral):
        return Number(float(node.val))
    if isinstance(node, pp.StringLiteral):
        return String(str(node.val))
    if isinstance(node, pp.VectorSelector):
        return _selector(node)
    if isinstance(node, pp.MatrixSelector):
        return _selector(node.vector_selector, _ms(node.range))
    if isinstance(node, pp.UnaryExpr):
        return Negate(_expr(node.expr))
    if isinstance(node, pp.SubqueryExpr):
        raise unsupported("a subquery")
    if isinstance(node, pp.Call):
        return Call(str(node.func.name), tuple(_expr(a) for a in node.args))
    if isinstance(node, pp.AggregateExpr):
        grouping: tuple[str, ...] = ()
        without = False
        if node.modifier is not None:
            grouping = tuple(node.modifier.labels)
            without = node.modifier.type == pp.AggModifierType.Without
        param = _expr(node.param) if node.param is not None else None
        return Aggregate(str(node.op), _expr(node.expr), param, grouping, without)
    if isinstance(node, pp.BinaryExpr):
        return _binary(node)
    raise unsupported(f"the expression {type(node).__name__}")


def _binary(node: pp.BinaryExpr) -> Binary:
    op = str(node.op)
    modifier = node.modifier
    if modifier is None:
        return Binary(op, _expr(node.lhs), _expr(node.rhs))
    on = False
    matching: tuple[str, ...] = ()
    if modifier.matching is not None:
        on = modifier.matching.type == pp.LabelModifierType.Include
        matching = tuple(modifier.matching.labels)
    fill = getattr(modifier, "fill_values", None)
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        raise unsupported("fill values in vector matching")
    return Binary(
        op,
        _expr(node.lhs),
        _expr(node.rhs),
        return_bool=bool(modifier.return_bool),
        on=on,
        matching=matching,
        card=_lookup(_CARDS, modifier.card),
        include=tuple(modifier.group_labels or ()),
    )


# -- parameters in Prometheus' spellings -------------------------------------------------------


def time_param(value: str | None, name: str, default_ms: int) -> int:
    """Unix seconds (fractions allowed) or RFC 3339, as epoch ms; `default_ms` when absent."""
    if value is None or value == "":
        return default_ms
    try:
        seconds = float(value)
    except ValueError:
        try:
            return parse_time(value)
        except ValueError:
            raise BadRequest(
                f"{name}: {value[:64]!r} is neither unix seconds nor an RFC 3339 time",
                code=ErrorCode.INVALID_TIME,
            ) from None
    if not math.isfinite(seconds) or not MIN_MS <= seconds * 1000 <= MAX_MS:
        raise BadRequest(
            f"{name}: {value[:64]!r} is outside 1970..2261", code=ErrorCode.INVALID_TIME
        )
    return round(seconds * 1000)


def duration_param(value: str | None, name: str) -> int:
    """Seconds (fractions allowed) or a PromQL duration (`15s`, `1m30s`), as positive ms."""
    if value is None or value == "":
        raise BadRequest(f"{name} is required", code=ErrorCode.MISSING_FIELD)
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = pp.parse_duration(value).total_seconds()
        except (ValueError, OverflowError):
            raise BadRequest(
                f"{name}: {value[:64]!r} is neither seconds nor a duration such as 15s",
                code=ErrorCode.INVALID_DURATION,
            ) from None
    ms = round(seconds * 1000) if math.isfinite(seconds) else 0
    if ms <= 0 or ms > MAX_MS:
        raise BadRequest(
            f"{name} must be a positive duration, not {value[:64]!r}",
            code=ErrorCode.INVALID_DURATION,
        )
    return ms


def check_resolution(start_ms: int, end_ms: int, step_ms: int) -> None:
    """Prometheus' rule, as it words and computes it: (end - start) / step, in whole steps,
    at most 11,000."""
    if end_ms < start_ms:
        raise BadRequest(
            "end timestamp must not be before start time", code=ErrorCode.INVALID_TIME_RANGE
        )
    if (end_ms - start_ms) // step_ms > MAX_POINTS_PER_SERIES:
        raise BadRequest(
            f"exceeded maximum resolution of {MAX_POINTS_PER_SERIES:,} points per timeseries. "
            "Try decreasing the query resolution (?step=XX)",
            code=ErrorCode.TOO_MANY_BUCKETS,
            details={"limit": MAX_POINTS_PER_SERIES},
        )


# -- answers ------------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A sample value as Prometheus writes it (shortest round-trip, no exponent)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, trim="-")


def seconds(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def metric(labels: Labels) -> dict[str, str]:
    return dict(labels)
