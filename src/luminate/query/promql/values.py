"""What PromQL expressions evaluate to, step by step: a scalar per step, or an instant vector
(series with labels, and a value where the series is present at a step)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from luminate.model.errors import ErrorCode, UnprocessableQuery
from luminate.model.promql import NAME_LABEL, Labels

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


@dataclass
class Scalar:
    values: Floats  # one per step


@dataclass
class Vector:
    """Row i is series `labels[i]`: its value per step, and whether it has one there."""

    labels: list[Labels]
    values: Floats  # (series, steps)
    present: Mask  # (series, steps)

    @classmethod
    def empty(cls, steps: int) -> Vector:
        return cls([], np.zeros((0, steps)), np.zeros((0, steps), dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)


Value = Scalar | Vector


def failed(message: str) -> UnprocessableQuery:
    return UnprocessableQuery(message, code=ErrorCode.PROMQL_EXECUTION)


def drop_name(labels: Labels) -> Labels:
    return tuple(kv for kv in labels if kv[0] != NAME_LABEL)


def keep(labels: Labels, names: Iterable[str]) -> Labels:
    wanted = set(names)
    return tuple(kv for kv in labels if kv[0] in wanted)


def without(labels: Labels, names: Iterable[str]) -> Labels:
    dropped = {*names, NAME_LABEL}
    return tuple(kv for kv in labels if kv[0] not in dropped)


def text(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def merge(labels: list[Labels], values: Floats, present: Mask) -> Vector:
    """Rows with equal labels folded into one; two of them present at the same step is the
    error Prometheus reports for a vector holding one label set twice."""
    rows: dict[Labels, list[int]] = {}
    for i, ls in enumerate(labels):
        rows.setdefault(ls, []).append(i)
    if len(rows) == len(labels):
        return Vector(labels, values, present)
    out_v = np.zeros((len(rows), values.shape[1]))
    out_p = np.zeros((len(rows), values.shape[1]), dtype=bool)
    for j, (ls, idx) in enumerate(rows.items()):
        p = present[idx]
        if (p.sum(axis=0) > 1).any():
            raise failed(f"vector cannot contain metrics with the same labelset {text(ls)}")
        out_v[j] = np.where(p, values[idx], 0.0).sum(axis=0)
        out_p[j] = p.any(axis=0)
    return Vector(list(rows), out_v, out_p)
