from __future__ import annotations

import math
import random

import pytest

from luminate.storage.promotion import MAX_LEAD_CARDINALITY, choose_lead, estimate_cardinality


@pytest.mark.parametrize("cardinality", [5, 50, 1_000, 20_000])
def test_cardinality_is_estimated_from_a_sample(cardinality: int) -> None:
    rng = random.Random(cardinality)
    n = 5_000
    distinct = len({rng.randrange(cardinality) for _ in range(n)})
    assert estimate_cardinality(distinct, n) == pytest.approx(cardinality, rel=0.15)


def test_all_distinct_means_unbounded() -> None:
    assert math.isinf(estimate_cardinality(1000, 1000))


@pytest.mark.parametrize("n", [300, 1_000, 5_000])
def test_the_lead_is_the_grouping_key_of_largest_cardinality(n: int) -> None:
    rng = random.Random(n)
    keys, values = [], []
    for _ in range(n):
        dims = {
            "customer_id": f"c{rng.randrange(1000)}",
            "endpoint": f"e{rng.randrange(50)}",
            "region": f"r{rng.randrange(5)}",
            "user_id": f"u{rng.randrange(1_000_000)}",
        }
        if rng.random() < 0.5:
            dims["rare"] = f"x{rng.randrange(10_000)}"  # on half the points only
        keys.append(list(dims))
        values.append(list(dims.values()))
    assert choose_lead(keys, values) == "customer_id"


def test_no_lead_without_a_grouping_key() -> None:
    assert choose_lead([], []) == ""
    assert choose_lead([["id"]] * 100, [[str(i)] for i in range(100)]) == ""
    assert choose_lead([["one"]] * 100, [["same"]] * 100) == ""
    assert MAX_LEAD_CARDINALITY >= 10_000


@pytest.mark.parametrize(
    ("code", "message", "waits"),
    [
        (60, "DB::Exception: Table luminate.samples doesn't exist.", True),
        (47, "DB::Exception: Unknown identifier: dim__customer_id.", True),
        (47, "DB::Exception: Unknown identifier: valu.", False),
        (62, "DB::Exception: Syntax error: failed at position 1", False),
    ],
)
def test_cluster_reads_wait_out_only_a_distributed_table_being_recreated(
    code: int, message: str, waits: bool
) -> None:
    """A key getting its column recreates the Distributed table on old servers; a read that
    meets the missing table or the missing dimension column is repeated, any other error not."""
    from clickhouse_driver import errors

    from luminate.storage.clickhouse import _recreating

    assert _recreating(errors.ServerException(message, code)) is waits
