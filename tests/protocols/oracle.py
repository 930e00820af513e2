"""Comparing answers of the Prometheus API: the same label sets, values within float tolerance
(NaN equals NaN), as Prometheus itself would be compared with itself."""

from __future__ import annotations

import math
from typing import Any

REL = 1e-6
ABS = 1e-9


def same_number(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=REL, abs_tol=ABS)


def _key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(metric.items()))


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """What differs between two `data` objects of query answers; empty when they agree."""
    if expected["resultType"] != actual["resultType"]:
        return [f"resultType {actual['resultType']} != {expected['resultType']}"]
    kind = expected["resultType"]
    if kind == "scalar":
        e, a = expected["result"], actual["result"]
        ok = float(e[0]) == float(a[0]) and same_number(e[1], a[1])
        return [] if ok else [f"scalar {a} != {e}"]
    want = {_key(r["metric"]): r for r in expected["result"]}
    got = {_key(r["metric"]): r for r in actual["result"]}
    out = [f"missing series {dict(k)}" for k in want.keys() - got.keys()]
    out += [f"unexpected series {dict(k)}" for k in got.keys() - want.keys()]
    for k in want.keys() & got.keys():
        if kind == "vector":
            e, a = want[k]["value"], got[k]["value"]
            if float(e[0]) != float(a[0]) or not same_number(e[1], a[1]):
                out.append(f"{dict(k)}: {a} != {e}")
        else:
            e_points = {float(t): v for t, v in want[k]["values"]}
            a_points = {float(t): v for t, v in got[k]["values"]}
            if e_points.keys() != a_points.keys():
                out.append(f"{dict(k)}: steps {sorted(a_points)} != {sorted(e_points)}")
                continue
            bad = [t for t in e_points if not same_number(e_points[t], a_points[t])]
            if bad:
                out.append(f"{dict(k)}: at {bad[0]}: {a_points[bad[0]]} != {e_points[bad[0]]}")
    return out
