"""Aggregation operators (`sum by (job) (...)`, `topk(3, ...)`, ...) over instant vectors, step
by step, with Prometheus' grouping rules: `by` keeps the listed labels, `without` drops them and
the metric name."""

from __future__ import annotations

import numpy as np

from luminate.model.promql import Aggregate
from luminate.query.promql.ranges import quantile
from luminate.query.promql.values import Floats, Mask, Vector, keep, without

SIMPLE = {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar"}
SELECTING = {"topk", "bottomk"}
NAMES = {*SIMPLE, *SELECTING, "quantile"}


def _groups(v: Vector, node: Aggregate) -> dict[tuple[tuple[str, str], ...], list[int]]:
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, ls in enumerate(v.labels):
        key = without(ls, node.grouping) if node.without else keep(ls, node.grouping)
        groups.setdefault(key, []).append(i)
    return groups


def _simple(op: str, values: Floats, present: Mask) -> tuple[Floats, Mask]:
    count = present.sum(axis=0)
    any_present = count > 0
    filled = np.where(present, values, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if op == "sum":
            out = filled.sum(axis=0)
        elif op == "count":
            out = count.astype(np.float64)
        elif op == "group":
            out = np.ones(values.shape[1])
        elif op == "avg":
            out = filled.sum(axis=0) / count
        elif op in ("min", "max"):
            # A NaN loses to any number, as in Prometheus; all NaN gives NaN.
            number = present & ~np.isnan(values)
            if op == "min":
                out = np.where(number, values, np.inf).min(axis=0)
            else:
                out = np.where(number, values, -np.inf).max(axis=0)
            out = np.where(number.any(axis=0), out, np.nan)
        else:
            mean = filled.sum(axis=0) / count
            var = (np.where(present, values - mean, 0.0) ** 2).sum(axis=0) / count
            out = np.sqrt(var) if op == "stddev" else var
    return np.where(any_present, out, 0.0), any_present


def aggregate(node: Aggregate, v: Vector, param: Floats | None) -> Vector:
    steps = v.values.shape[1]
    groups = _groups(v, node)
    if node.op in SELECTING:
        assert param is not None
        return _select(node.op == "topk", v, groups, param)
    labels, rows, present = [], [], []
    for key, idx in groups.items():
        values, mask = v.values[idx], v.present[idx]
        if node.op == "quantile":
            assert param is not None
            out = np.zeros(steps)
            ok = mask.any(axis=0)
            for j in np.nonzero(ok)[0]:
                out[j] = quantile(float(param[j]), values[mask[:, j], j])
        else:
            out, ok = _simple(node.op, values, mask)
        if ok.any():
            labels.append(key)
            rows.append(out)
            present.append(ok)
    if not labels:
        return Vector.empty(steps)
    return Vector(labels, np.array(rows), np.array(present))


def _select(
    top: bool, v: Vector, groups: dict[tuple[tuple[str, str], ...], list[int]], k: Floats
) -> Vector:
    """topk / bottomk: per step, the k largest (smallest) present series of each group, with
    their own labels. NaN ranks last either way, as in Prometheus."""
    keep_mask = np.zeros_like(v.present)
    for idx in groups.values():
        rows = np.array(idx)
        for j in range(v.values.shape[1]):
            n = int(k[j]) if np.isfinite(k[j]) else 0
            here = rows[v.present[rows, j]]
            if n < 1 or len(here) == 0:
                continue
            vals = v.values[here, j]
            rank = np.where(np.isnan(vals), -np.inf if top else np.inf, vals)
            order = np.argsort(-rank if top else rank, kind="stable")
            keep_mask[here[order[:n]], j] = True
    alive = keep_mask.any(axis=1)
    return Vector(
        [v.labels[i] for i in np.nonzero(alive)[0]],
        v.values[alive],
        keep_mask[alive],
    )
