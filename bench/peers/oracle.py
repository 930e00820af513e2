"""The answers every system must give, computed with numpy from the generated points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.generate import CUSTOMERS, ENDPOINTS, DataSet, _names, columns


@dataclass(frozen=True)
class Oracle:
    customers: npt.NDArray[np.int64]
    endpoints: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @classmethod
    def of(cls, data: DataSet) -> Oracle:
        c = columns(data, 0, data.points)
        return cls(c.customers, c.endpoints, c.timestamps, c.values)

    def avg_by_customer(self) -> dict[str, float]:
        sums = np.bincount(self.customers, self.values, minlength=CUSTOMERS)
        counts = np.bincount(self.customers, minlength=CUSTOMERS)
        names = _names()[0]
        return {str(names[i]): float(sums[i] / counts[i]) for i in np.flatnonzero(counts)}

    def _one(self, customer: str) -> npt.NDArray[np.bool_]:
        index = int(customer.removeprefix("cust_"))
        mask: npt.NDArray[np.bool_] = self.customers == index
        return mask

    def p95_by_endpoint(self, customer: str) -> dict[str, npt.NDArray[np.float64]]:
        """Sorted values per endpoint (a percentile is checked within 1% rank of them)."""
        mask = self._one(customer)
        names = _names()[1]
        out = {}
        for e in range(ENDPOINTS):
            vals = np.sort(self.values[mask & (self.endpoints == e)])
            if vals.size:
                out[str(names[e])] = vals
        return out

    def count(self, customer: str) -> int:
        return int(self._one(customer).sum())


def within_rank(sorted_values: npt.NDArray[np.float64], q: float, got: float) -> float:
    """How far `got` is from rank q, in rank (0 when inside the values' rank q ± 0)."""
    n = len(sorted_values)
    lo = np.searchsorted(sorted_values, got, side="left") / n
    hi = np.searchsorted(sorted_values, got, side="right") / n
    if lo <= q <= hi:
        return 0.0
    return float(min(abs(lo - q), abs(hi - q)))
