"""Binary operators between scalars and instant vectors, step by step, with Prometheus' vector
matching: one-to-one by default, `on`/`ignoring` to choose the matching labels,
`group_left`/`group_right` for many-to-one, and the set operators `and`, `or`, `unless`."""

from __future__ import annotations

import numpy as np

from luminate.model.promql import Binary, Card, Labels
from luminate.query.promql.values import (
    Floats,
    Mask,
    Scalar,
    Value,
    Vector,
    drop_name,
    failed,
    keep,
    merge,
    text,
    without,
)

ARITHMETIC = {"+", "-", "*", "/", "%", "^", "atan2"}
COMPARISON = {"==", "!=", ">", "<", ">=", "<="}
SETS = {"and", "or", "unless"}


def apply(op: str, a: Floats, b: Floats) -> tuple[Floats, Mask | None]:
    """`a op b` elementwise; for comparisons also the mask of where it holds."""
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b, None
        if op == "-":
            return a - b, None
        if op == "*":
            return a * b, None
        if op == "/":
            return a / b, None
        if op == "%":
            return np.fmod(a, b), None
        if op == "^":
            return np.power(a, b), None
        if op == "atan2":
            return np.arctan2(a, b), None
        holds = {
            "==": a == b,
            "!=": a != b,
            ">": a > b,
            "<": a < b,
            ">=": a >= b,
            "<=": a <= b,
        }[op]
        return a, holds


def evaluate(node: Binary, lhs: Value, rhs: Value) -> Value:
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        values, holds = apply(node.op, lhs.values, rhs.values)
        if holds is not None:
            values = holds.astype(np.float64)
        return Scalar(values)
    if isinstance(lhs, Vector) and isinstance(rhs, Vector):
        if node.op in SETS:
            return _sets(node, lhs, rhs)
        return _vectors(node, lhs, rhs)
    if isinstance(lhs, Vector):
        assert isinstance(rhs, Scalar)
        return _with_scalar(node, lhs, rhs.values, scalar_left=False)
    assert isinstance(rhs, Vector) and isinstance(lhs, Scalar)
    return _with_scalar(node, rhs, lhs.values, scalar_left=True)


def _with_scalar(node: Binary, v: Vector, s: Floats, scalar_left: bool) -> Vector:
    a, b = (np.broadcast_to(s, v.values.shape), v.values)
    if not scalar_left:
        a, b = b, a
    values, holds = apply(node.op, a, b)
    present = v.present
    if holds is not None:
        if node.return_bool:
            values = holds.astype(np.float64)
        else:
            # A filter keeps the vector's own value, whichever side it is on.
            values = v.values
            present = present & holds
    labels = v.labels
    if node.op in ARITHMETIC or node.return_bool:
        labels = [drop_name(ls) for ls in labels]
        return merge(labels, np.array(values), present)
    return Vector(labels, np.array(values), present)


def _signature(node: Binary, labels: Labels) -> Labels:
    return keep(labels, node.matching) if node.on else without(labels, node.matching)


def _by_signature(node: Binary, v: Vector) -> dict[Labels, list[int]]:
    out: dict[Labels, list[int]] = {}
    for i, ls in enumerate(v.labels):
        out.setdefault(_signature(node, ls), []).append(i)
    return out


def _sets(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    right = _by_signature(node, rhs)
    steps = lhs.values.shape[1]
    none = np.zeros(steps, dtype=bool)

    def matched(v: Vector, sides: dict[Labels, list[int]], labels: Labels) -> Mask:
        """Where `v` has a series matching `labels`."""
        rows = sides.get(_signature(node, labels))
        if not rows:
            return none
        found: Mask = np.asarray(v.present[rows].any(axis=0), dtype=np.bool_)
        return found

    if node.op == "and":
        present = np.array(
            [lhs.present[i] & matched(rhs, right, lhs.labels[i]) for i in range(len(lhs))]
        )
        return Vector(lhs.labels, lhs.values, present.reshape(lhs.present.shape))
    if node.op == "unless":
        present = np.array(
            [lhs.present[i] & ~matched(rhs, right, lhs.labels[i]) for i in range(len(lhs))]
        )
        return Vector(lhs.labels, lhs.values, present.reshape(lhs.present.shape))
    left = _by_signature(node, lhs)
    extra = np.array([rhs.present[i] & ~matched(lhs, left, rhs.labels[i]) for i in range(len(rhs))])
    return merge(
        [*lhs.labels, *rhs.labels],
        np.concatenate([lhs.values, rhs.values]),
        np.concatenate([lhs.present, extra.reshape(rhs.present.shape)]),
    )


def _result_labels(node: Binary, many: Labels, one: Labels) -> Labels:
    labels = dict(many)
    if node.op in ARITHMETIC or node.return_bool:
        labels.pop("__name__", None)
    if node.card is Card.ONE_TO_ONE:
        if node.on:
            labels = {k: v for k, v in labels.items() if k in node.matching}
        else:
            for k in node.matching:
                labels.pop(k, None)
    else:
        other = dict(one)
        for k in node.include:
            if other.get(k):
                labels[k] = other[k]
            else:
                labels.pop(k, None)
    return tuple(sorted(labels.items()))


def _vectors(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    if node.card is Card.MANY_TO_MANY:
        raise failed(f"many-to-many matching is only allowed for set operators, not {node.op}")
    many, one, swapped = (rhs, lhs, True) if node.card is Card.ONE_TO_MANY else (lhs, rhs, False)
    ones = _by_signature(node, one)
    steps = lhs.values.shape[1]
    if node.card is Card.ONE_TO_ONE:
        taken = np.zeros((len(ones), steps), dtype=np.int64)
        slot = {sig: k for k, sig in enumerate(ones)}
    labels, rows, present = [], [], []
    for i, ls in enumerate(many.labels):
        sig = _signature(node, ls)
        group = ones.get(sig)
        if not group:
            continue
        one_present = one.present[group]
        clash = (one_present.sum(axis=0) > 1) & many.present[i]
        if clash.any():
            side = "left" if swapped else "right"
            raise failed(
                f"found duplicate series for the match group {text(sig)} on the {side} hand "
                "side of the operation; many-to-many matching not allowed: matching labels "
                "must be unique on one side"
            )
        one_values = np.where(one_present, one.values[group], 0.0).sum(axis=0)
        ok = many.present[i] & one_present.any(axis=0)
        if node.card is Card.ONE_TO_ONE:
            taken[slot[sig]] += ok
            if (taken[slot[sig]] > 1).any():
                raise failed(
                    f"multiple matches for labels {text(sig)}: many-to-one matching must be "
                    "explicit (group_left/group_right)"
                )
        a, b = (one_values, many.values[i]) if swapped else (many.values[i], one_values)
        values, holds = apply(node.op, a, b)
        if holds is not None:
            if node.return_bool:
                values = holds.astype(np.float64)
            else:
                ok = ok & holds
        if not ok.any():
            continue
        partner = one.labels[group[int(np.argmax(one_present.any(axis=1)))]]
        labels.append(_result_labels(node, ls, partner))
        rows.append(values)
        present.append(ok)
    if not labels:
        return Vector.empty(steps)
    return merge(labels, np.array(rows), np.array(present))
