"""Functions of instant vectors and scalars: math, clamping, `scalar`, `vector`, `time`,
`label_replace`, and `histogram_quantile` over classic `le` buckets."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from luminate.model.promql import NAME_LABEL, Labels
from luminate.query.promql.values import Floats, Scalar, Vector, drop_name, failed, merge

MATH: dict[str, Callable[[Floats], Floats]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "sgn": np.sign,
}
CLAMPS = {"clamp", "clamp_min", "clamp_max", "round"}
NAMES = {*MATH, *CLAMPS, "scalar", "vector", "time", "label_replace", "histogram_quantile"}


def math(func: str, v: Vector) -> Vector:
    with np.errstate(all="ignore"):
        values = MATH[func](v.values)
    return merge([drop_name(ls) for ls in v.labels], values, v.present)


def clamp(func: str, v: Vector, args: list[Floats]) -> Vector:
    with np.errstate(all="ignore"):
        if func == "clamp_min":
            values = np.maximum(v.values, args[0])
        elif func == "clamp_max":
            values = np.minimum(v.values, args[0])
        elif func == "clamp":
            low, high = args
            values = np.maximum(np.minimum(v.values, high), low)
            # Prometheus answers nothing where min > max.
            v = Vector(v.labels, v.values, v.present & (low <= high))
        else:
            # round(v, to_nearest): half up, as Prometheus' math.Floor(v/to + 0.5) * to.
            to = args[0] if args else np.ones(v.values.shape[1])
            values = np.floor(v.values / to + 0.5) * to
    return merge([drop_name(ls) for ls in v.labels], values, v.present)


def scalar(v: Vector) -> Scalar:
    """The value of a one-element vector per step, NaN otherwise."""
    count = v.present.sum(axis=0)
    values = np.where(v.present, v.values, 0.0).sum(axis=0)
    return Scalar(np.where(count == 1, values, np.nan))


def vector(s: Scalar) -> Vector:
    steps = len(s.values)
    return Vector([()], s.values.reshape(1, steps), np.ones((1, steps), dtype=bool))


def label_replace(v: Vector, dst: str, replacement: str, src: str, regex: str) -> Vector:
    try:
        pattern = re.compile(f"^(?:{regex})$")
    except re.error as exc:
        raise failed(f"invalid regular expression in label_replace(): {regex}: {exc}") from None
    template = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", replacement)
    labels = []
    for ls in v.labels:
        current = dict(ls)
        found = pattern.match(current.get(src, ""))
        if found is not None:
            value = found.expand(template)
            if value:
                current[dst] = value
            else:
                current.pop(dst, None)
        labels.append(tuple(sorted(current.items())))
    return merge(labels, v.values, v.present)


def _bucket_quantile(q: float, bounds: Floats, counts: Floats) -> float:
    """Prometheus' bucketQuantile over buckets sorted by upper bound."""
    if np.isnan(q):
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    if len(bounds) == 0 or not np.isposinf(bounds[-1]):
        return float("nan")
    # Equal bounds are merged; counts are made monotonic (float error in rates).
    merged_b, merged_c = [bounds[0]], [counts[0]]
    for b, c in zip(bounds[1:], counts[1:], strict=True):
        if b == merged_b[-1]:
            merged_c[-1] += c
        else:
            merged_b.append(b)
            merged_c.append(c)
    cum = np.maximum.accumulate(np.array(merged_c))
    ub = np.array(merged_b)
    if len(ub) < 2:
        return float("nan")
    observations = cum[-1]
    if observations == 0:
        return float("nan")
    rank = float(q * observations)
    b = int(np.searchsorted(cum[:-1], rank, side="left"))
    if b == len(ub) - 1:
        return float(ub[-2])
    if b == 0 and ub[0] <= 0:
        return float(ub[0])
    start, end, count = 0.0, float(ub[b]), float(cum[b])
    if b > 0:
        start = float(ub[b - 1])
        count -= float(cum[b - 1])
        rank -= float(cum[b - 1])
    return start + (end - start) * (rank / count)


def histogram_quantile(q: Floats, v: Vector) -> Vector:
    """Per step, the q-quantile of each histogram: series grouped by their labels without `le`
    and the name; series without a parsable `le` are ignored."""
    groups: dict[Labels, list[tuple[float, int]]] = {}
    for i, ls in enumerate(v.labels):
        le = dict(ls).get("le")
        if le is None:
            continue
        try:
            bound = float(le)
        except ValueError:
            continue
        key = tuple(kv for kv in ls if kv[0] not in ("le", NAME_LABEL))
        groups.setdefault(key, []).append((bound, i))
    steps = v.values.shape[1]
    labels, rows, present = [], [], []
    for key, members in groups.items():
        members.sort()
        bounds = np.array([b for b, _ in members])
        idx = [i for _, i in members]
        out = np.zeros(steps)
        ok = v.present[idx].any(axis=0)
        for j in np.nonzero(ok)[0]:
            here = v.present[idx, j]
            out[j] = _bucket_quantile(float(q[j]), bounds[here], v.values[idx, j][here])
        if ok.any():
            labels.append(key)
            rows.append(out)
            present.append(ok)
    if not labels:
        return Vector.empty(steps)
    return Vector(labels, np.array(rows), np.array(present))
