"""PromQL selectors and the Prometheus API's discovery compiled into SQL, and their rows read
back as model values.

Storage selects series and their raw samples; the PromQL service evaluates (steps, lookback,
extrapolation) over them. Label matchers become predicates on `metric_name` (`__name__`) and on
dimensions read through `Layout.dimension`, where '' stands for an absent label, which is what
PromQL's matchers mean by an empty value. Regexes are fully anchored as in Prometheus; ClickHouse
`match` and Prometheus both speak RE2. The statements run unchanged on ClickHouse 18.16 and on
current engines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from luminate.model.promql import NAME_LABEL, Labels, Matcher, MatchOp, SeriesMatch, SeriesSamples
from luminate.storage.compile import Layout
from luminate.storage.engine import Engine
from luminate.storage.errors import StorageError
from luminate.storage.sql import Statement, Table, quote, scan

_SeriesRows = list[tuple[str, list[str], list[str], list[tuple[int, float]]]]
_LabelRows = list[tuple[str, list[str], list[str]]]


def _label(name: str, layout: Layout) -> str:
    return "metric_name" if name == NAME_LABEL else layout.dimension(name)


def matcher_sql(m: Matcher, layout: Layout) -> str:
    column = _label(m.name, layout)
    if m.op is MatchOp.EQ:
        return f"{column} = {quote(m.value)}"
    if m.op is MatchOp.NE:
        return f"{column} != {quote(m.value)}"
    anchored = quote(f"^(?:{m.value})$")
    if m.op is MatchOp.RE:
        return f"match({column}, {anchored})"
    return f"NOT match({column}, {anchored})"


def _all(matchers: Sequence[Matcher], layout: Layout) -> str:
    return "(" + " AND ".join([matcher_sql(m, layout) for m in matchers] or ["1"]) + ")"


def _window(start_ms: int, end_ms: int) -> list[str]:
    return [f"timestamp_ms >= {start_ms}", f"timestamp_ms <= {end_ms}"]


def compile_samples(
    tenant: str,
    matchers: Sequence[Matcher],
    start_ms: int,
    end_ms: int,
    layout: Layout,
    *,
    max_series: int,
    timeout_s: float,
    max_rows_scanned: int = 0,
) -> Statement:
    """Rows (metric, keys, values, [(ts, value)...] sorted) per series with samples in
    `[start_ms, end_ms]`; at most `max_series + 1` rows."""
    conds = [_all(matchers, layout), *_window(start_ms, end_ms)]
    settings: dict[str, int | float | str] = {"max_execution_time": timeout_s}
    if max_rows_scanned:
        settings["max_rows_to_read"] = max_rows_scanned
    return Statement(
        "SELECT metric_name, any(dim_keys), any(dim_values), "
        "arraySort(groupArray((timestamp_ms, value))) "
        f"{scan(Table.SAMPLES, tenant, conds)} "
        f"GROUP BY metric_name, series_id LIMIT {max_series + 1}",
        tenant,
        settings,
    )


def _scope(tenant: str, match: SeriesMatch, layout: Layout, extra: Sequence[str] = ()) -> str:
    conds = _window(match.start_ms, match.end_ms)
    if match.selectors:
        conds.append("(" + " OR ".join(_all(s, layout) for s in match.selectors) + ")")
    return scan(Table.SAMPLES, tenant, [*conds, *extra])


def compile_label_names(tenant: str, match: SeriesMatch, layout: Layout) -> Statement:
    """Rows (name,) of every dimension key, sorted, at most `limit + 1`."""
    return Statement(
        f"SELECT DISTINCT k FROM (SELECT dim_keys {_scope(tenant, match, layout)}) "
        f"ARRAY JOIN dim_keys AS k ORDER BY k LIMIT {match.limit + 1}",
        tenant,
    )


def compile_label_values(tenant: str, name: str, match: SeriesMatch, layout: Layout) -> Statement:
    """Rows (value,) of label `name` (`__name__`: metric names), sorted, at most `limit + 1`."""
    column = _label(name, layout)
    extra = [] if name == NAME_LABEL else [layout.has_dimension(name)]
    return Statement(
        f"SELECT DISTINCT {column} AS v {_scope(tenant, match, layout, extra)} "
        f"ORDER BY v LIMIT {match.limit + 1}",
        tenant,
    )


def compile_series_labels(tenant: str, match: SeriesMatch, layout: Layout) -> Statement:
    """Rows (metric, keys, values) per series, at most `limit + 1`."""
    return Statement(
        f"SELECT metric_name, any(dim_keys), any(dim_values) {_scope(tenant, match, layout)} "
        f"GROUP BY metric_name, series_id ORDER BY metric_name LIMIT {match.limit + 1}",
        tenant,
    )


def labels_of(metric: str, keys: Sequence[str], values: Sequence[str]) -> Labels:
    return tuple(sorted([(NAME_LABEL, metric), *zip(keys, values, strict=True)]))


class SeriesReads:
    """Series and their samples, for PromQL and the Prometheus API's discovery."""

    def __init__(self, engine: Engine, layout: Callable[[], Layout]) -> None:
        self._engine = engine
        self._current = layout

    @property
    def layout(self) -> Layout:
        """The current layout: keys get their own columns while the service runs."""
        return self._current()

    def samples(
        self,
        tenant: str,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        *,
        max_series: int,
        timeout_s: float,
        max_rows_scanned: int = 0,
    ) -> tuple[list[SeriesSamples], int]:
        """The matching series (at most `max_series + 1`: one more says there were more), and
        the stored rows the engine read."""
        stmt = compile_samples(
            tenant,
            matchers,
            start_ms,
            end_ms,
            self.layout,
            max_series=max_series,
            timeout_s=timeout_s,
            max_rows_scanned=max_rows_scanned,
        )
        result = self._engine.select(stmt)
        try:
            rows = msgspec.convert(result.rows, _SeriesRows, strict=False)
        except msgspec.ValidationError as exc:
            raise StorageError(f"engine returned malformed series rows: {exc}") from None
        out = []
        for metric, keys, values, points in rows:
            out.append(
                SeriesSamples(
                    labels_of(metric, keys, values),
                    [p[0] for p in points],
                    [p[1] for p in points],
                )
            )
        return out, result.rows_read

    def label_names(self, tenant: str, match: SeriesMatch) -> list[str]:
        rows = self._engine.select(compile_label_names(tenant, match, self.layout)).rows
        return [str(r[0]) for r in rows]

    def label_values(self, tenant: str, name: str, match: SeriesMatch) -> list[str]:
        rows = self._engine.select(compile_label_values(tenant, name, match, self.layout)).rows
        return [str(r[0]) for r in rows]

    def series(self, tenant: str, match: SeriesMatch) -> list[Labels]:
        rows = self._engine.select(compile_series_labels(tenant, match, self.layout)).rows
        try:
            typed = msgspec.convert(rows, _LabelRows, strict=False)
        except msgspec.ValidationError as exc:
            raise StorageError(f"engine returned malformed series rows: {exc}") from None
        return [labels_of(m, k, v) for m, k, v in typed]
