"""The PromQL evaluator: walks the expression model, reads each selector's series once through
`fetch`, and evaluates every step of the query at once with numpy. Constructs it does not
evaluate raise `unsupported_promql` naming them, so nothing answers wrongly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from luminate.model.errors import ErrorCode, UnprocessableQuery
from luminate.model.promql import (
    Aggregate,
    Binary,
    Call,
    Evaluation,
    Expr,
    Negate,
    Number,
    Selector,
    SeriesSamples,
    String,
)
from luminate.query.promql import aggregate, binary, functions, ranges
from luminate.query.promql.values import Floats, Scalar, Value, Vector, drop_name, merge

# (selector, first ms, last ms) -> the series with their samples in [first, last]
Fetch = Callable[[Selector, int, int], list[SeriesSamples]]
SUPPORTED_FUNCTIONS = ranges.NAMES | functions.NAMES


def unsupported(what: str) -> UnprocessableQuery:
    return UnprocessableQuery(
        f"{what} is not supported by Luminate's PromQL engine (see docs/integrations.md)",
        code=ErrorCode.UNSUPPORTED_PROMQL,
    )


class Evaluator:
    def __init__(self, ev: Evaluation, fetch: Fetch) -> None:
        self.ev = ev
        self.fetch = fetch
        self.times = np.arange(ev.start_ms, ev.end_ms + 1, ev.step_ms, dtype=np.int64)

    def run(self) -> Value:
        return self.eval(self.ev.expr)

    def eval(self, e: Expr) -> Value:
        if isinstance(e, Number):
            return Scalar(np.full(len(self.times), e.value))
        if isinstance(e, Selector):
            if e.range_ms is not None:
                raise unsupported("a range vector outside a function (e.g. x[5m] on its own)")
            return self._instant(e)
        if isinstance(e, Negate):
            inner = self.eval(e.expr)
            if isinstance(inner, Scalar):
                return Scalar(-inner.values)
            return merge([drop_name(ls) for ls in inner.labels], -inner.values, inner.present)
        if isinstance(e, Binary):
            return binary.evaluate(e, self.eval(e.lhs), self.eval(e.rhs))
        if isinstance(e, Aggregate):
            return self._aggregate(e)
        if isinstance(e, Call):
            return self._call(e)
        raise unsupported("a string expression")

    def _series(self, s: Selector) -> list[SeriesSamples]:
        back = s.range_ms if s.range_ms is not None else self.ev.lookback_ms
        return self.fetch(s, self.ev.start_ms - s.offset_ms - back, self.ev.end_ms - s.offset_ms)

    def _instant(self, s: Selector) -> Vector:
        """At each step t the series' latest sample in [t - lookback, t] (offset applied)."""
        ends = self.times - s.offset_ms
        labels, rows, present = [], [], []
        for series in self._series(s):
            ts = np.asarray(series.timestamps, dtype=np.int64)
            vs = np.asarray(series.values, dtype=np.float64)
            at = np.searchsorted(ts, ends, side="right") - 1
            ok = at >= 0
            safe = np.where(ok, at, 0)
            ok &= ts[safe] >= ends - self.ev.lookback_ms
            if ok.any():
                labels.append(series.labels)
                rows.append(np.where(ok, vs[safe], 0.0))
                present.append(ok)
        if not labels:
            return Vector.empty(len(self.times))
        return Vector(labels, np.array(rows), np.array(present))

    def _scalar(self, e: Expr, what: str) -> Floats:
        value = self.eval(e)
        if not isinstance(value, Scalar):
            raise UnprocessableQuery(f"{what} must be a scalar", code=ErrorCode.INVALID_PROMQL)
        return value.values

    def _vector(self, e: Expr, what: str) -> Vector:
        value = self.eval(e)
        if not isinstance(value, Vector):
            raise UnprocessableQuery(
                f"{what} must be an instant vector", code=ErrorCode.INVALID_PROMQL
            )
        return value

    def _aggregate(self, e: Aggregate) -> Vector:
        if e.op not in aggregate.NAMES:
            raise unsupported(f"the aggregation {e.op}()")
        param = None
        if e.op in ("topk", "bottomk", "quantile"):
            if e.param is None:
                raise UnprocessableQuery(
                    f"{e.op}() needs a parameter", code=ErrorCode.INVALID_PROMQL
                )
            param = self._scalar(e.param, f"the parameter of {e.op}()")
        return aggregate.aggregate(e, self._vector(e.expr, f"the argument of {e.op}()"), param)

    def _call(self, e: Call) -> Value:
        name, args = e.func, e.args
        if name not in SUPPORTED_FUNCTIONS:
            raise unsupported(f"the function {name}()")
        if name in ranges.NAMES:
            matrix = args[-1]
            if not isinstance(matrix, Selector) or matrix.range_ms is None:
                raise unsupported(f"{name}() over anything but a range selector (a subquery)")
            param = (
                self._scalar(args[0], f"the first argument of {name}()") if len(args) > 1 else None
            )
            return ranges.evaluate(
                name,
                self._series(matrix),
                self.times - matrix.offset_ms,
                matrix.range_ms,
                param,
            )
        if name == "time":
            return Scalar(self.times.astype(np.float64) / 1000)
        if name == "vector":
            return functions.vector(Scalar(self._scalar(args[0], "the argument of vector()")))
        if name == "scalar":
            return functions.scalar(self._vector(args[0], "the argument of scalar()"))
        if name == "histogram_quantile":
            q = self._scalar(args[0], "the quantile of histogram_quantile()")
            return functions.histogram_quantile(q, self._vector(args[1], "the buckets"))
        if name == "label_replace":
            texts = []
            for a in args[1:]:
                if not isinstance(a, String):
                    raise UnprocessableQuery(
                        "label_replace() takes string arguments", code=ErrorCode.INVALID_PROMQL
                    )
                texts.append(a.value)
            dst, replacement, src, regex = texts
            return functions.label_replace(
                self._vector(args[0], "the argument of label_replace()"),
                dst,
                replacement,
                src,
                regex,
            )
        v = self._vector(args[0], f"the argument of {name}()")
        if name in functions.MATH:
            return functions.math(name, v)
        extra = [self._scalar(a, f"the arguments of {name}()") for a in args[1:]]
        return functions.clamp(name, v, extra)
