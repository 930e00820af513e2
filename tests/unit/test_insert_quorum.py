"""The insert quorum setting and the shard router's rules, without a server: what a quorum
resolves to, which values are refused and how, and where a batch may go after each kind of
failure. `tests/clickhouse/test_insert_quorum.py` proves the same rules on the real cluster."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from luminate.settings import ConfigError, load_settings
from luminate.storage import quorum
from luminate.storage.errors import StorageUnavailable
from luminate.storage.quorum import ImpossibleQuorum, InsertRefused
from luminate.storage.shards import Replica, Shard, ShardRouter

VAR = "LUMINATE_CLICKHOUSE_INSERT_QUORUM"


@pytest.mark.parametrize(
    ("spec", "replicas", "needed"),
    [
        ("majority", [2, 2], 2),
        ("majority", [3, 3], 2),
        ("majority", [5], 3),
        ("majority", [1, 1], 1),
        ("majority", [3, 2], 2),  # the smallest shard decides
        (1, [2, 2], 1),
        (2, [2, 2], 2),
        (2, [3, 2], 2),
    ],
)
def test_the_quorum_each_insert_needs(
    spec: quorum.QuorumSpec, replicas: list[int], needed: int
) -> None:
    assert quorum.resolve(spec, replicas, "c") == needed


def test_an_impossible_quorum_names_the_variable_and_the_shard() -> None:
    with pytest.raises(ImpossibleQuorum) as err:
        quorum.resolve(3, [3, 2], "luminate_cluster")
    assert str(err.value) == (
        f"{VAR}=3 can never be met: shard 2 of cluster 'luminate_cluster' has 2 replicas in "
        "system.clusters; set at most 2 or 'majority'"
    )
    with pytest.raises(ImpossibleQuorum, match="without LUMINATE_CLICKHOUSE_CLUSTER"):
        quorum.resolve(2, [1], None)


def test_insert_settings() -> None:
    assert quorum.insert_settings(1, 10, parallel=True) == {}
    assert quorum.insert_settings(2, 2.5, parallel=False) == {
        "insert_quorum": 2,
        "insert_quorum_timeout": 2500,
    }
    assert quorum.insert_settings(2, 10, parallel=True)["insert_quorum_parallel"] == 1


def test_the_setting_takes_majority_or_a_number() -> None:
    assert load_settings({}).clickhouse_insert_quorum == "majority"
    assert load_settings({VAR: "2"}).clickhouse_insert_quorum == 2
    assert load_settings({VAR: "majority"}).clickhouse_insert_quorum == "majority"


@pytest.mark.parametrize("value", ["-1", "0", "two", "1.5", "", "MAJORITY", "2 replicas"])
def test_a_bad_quorum_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({VAR: value})
    assert str(err.value) == (
        f"invalid setting: {VAR}={value!r}: expected `majority` or a whole number of "
        "replicas, at least 1"
    )


@pytest.mark.parametrize("value", ["0", "-2", "soon"])
def test_a_bad_quorum_timeout_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="LUMINATE_CLICKHOUSE_INSERT_QUORUM_TIMEOUT_SECONDS"):
        load_settings({"LUMINATE_CLICKHOUSE_INSERT_QUORUM_TIMEOUT_SECONDS": value})


def test_the_cli_refuses_a_bad_quorum_in_one_line(tmp_path: Path) -> None:
    for command in (["migrate"], ["serve"]):
        out = subprocess.run(
            [sys.executable, "-m", "luminate", *command],
            env={"PATH": "/usr/bin:/bin", VAR: "-1", "LUMINATE_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 2, out.stderr
        assert out.stderr.splitlines() == [
            f"luminate: invalid setting: {VAR}='-1': expected `majority` or a whole number of "
            "replicas, at least 1"
        ]


# ---------------------------------------------------------------- the router's rules

A = Shard(1, (("a1", 1), ("a2", 1)))
B = Shard(2, (("b1", 1), ("b2", 1)))


class Replicas:
    """Scripted replicas: each call to `send` takes the next outcome listed for that replica
    (None: stored; an exception: raised), and every call is recorded."""

    def __init__(self, script: dict[str, list[Exception | None]]) -> None:
        self.script = script
        self.calls: list[str] = []

    def send(self, replica: Replica) -> None:
        self.calls.append(replica[0])
        outcomes = self.script.get(replica[0], [])
        outcome = outcomes.pop(0) if outcomes else None
        if outcome is not None:
            raise outcome


def _token_starting_at(shard: Shard) -> str:
    router = ShardRouter([A, B])
    for n in range(100):
        token = f"token-{n}"
        replicas = Replicas({})
        if router.insert(token, replicas.send) == shard:
            return token
    raise AssertionError("no token starts at that shard")


def refused(busy: bool = False) -> InsertRefused:
    return InsertRefused("refused", busy=busy)


def test_a_batch_refused_by_every_replica_of_a_shard_goes_to_the_next() -> None:
    token = _token_starting_at(A)
    replicas = Replicas({"a1": [refused()], "a2": [refused()]})
    assert ShardRouter([A, B]).insert(token, replicas.send) == B
    assert replicas.calls == ["a1", "a2", "b1"]


def test_a_batch_with_an_unknown_outcome_never_leaves_its_shard() -> None:
    token = _token_starting_at(A)
    router = ShardRouter([A, B])
    unknown = StorageUnavailable("timeout while waiting for quorum")
    replicas = Replicas({"a1": [unknown, refused(busy=True)], "a2": [refused()]})
    with pytest.raises(StorageUnavailable, match="quorum"):
        router.insert(token, replicas.send)
    assert router.pinned(token) == A
    # The retry with the same token: shard A refuses it, and shard B is never asked.
    with pytest.raises(StorageUnavailable, match="no shard took"):
        router.insert(token, replicas.send)
    assert replicas.calls == ["a1", "a1", "a2"]
    # Once shard A takes it (deduplicating the first attempt), the pin is dropped.
    router.insert(token, replicas.send)
    assert router.pinned(token) is None
    assert "b1" not in replicas.calls


def test_busy_shards_are_waited_for_within_the_budget() -> None:
    token = _token_starting_at(A)
    busy = refused(busy=True)
    replicas = Replicas({"a1": [busy, busy], "a2": [busy, busy], "b1": [busy, busy]})
    replicas.script["b2"] = [busy, busy]
    assert ShardRouter([A, B], busy_wait_s=5).insert(token, replicas.send) == A
    assert replicas.calls.count("a1") == 3
    # Without budget left, busy shards are a refusal like any other.
    replicas = Replicas({r: [busy] * 100 for r in ("a1", "a2", "b1", "b2")})
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        ShardRouter([A, B], busy_wait_s=0.3).insert(token, replicas.send)
    assert time.monotonic() - started < 2


def test_a_shard_that_just_failed_is_tried_last() -> None:
    token = _token_starting_at(A)
    router = ShardRouter([A, B], cooldown_s=60)
    replicas = Replicas({"a1": [refused()], "a2": [refused()]})
    router.insert(token, replicas.send)
    replicas.calls.clear()
    assert router.insert(token, replicas.send) == B
    assert replicas.calls == ["b1"]


def test_one_quorum_insert_per_shard_prefers_an_idle_shard() -> None:
    token = _token_starting_at(A)
    router = ShardRouter([A, B], serial=True)
    entered, release = threading.Event(), threading.Event()

    def slow(replica: Replica) -> None:
        entered.set()
        assert release.wait(10)

    first = threading.Thread(target=router.insert, args=(token, slow))
    first.start()
    assert entered.wait(10)
    try:
        replicas = Replicas({})
        # Another batch starting at A while A has an insert in flight: B takes it at once.
        assert _with_timeout(lambda: router.insert(token, replicas.send), 5) == B
        assert replicas.calls == ["b1"]
    finally:
        release.set()
        first.join(10)


def _with_timeout(call: Callable[[], Shard], seconds: float) -> Shard:
    out: list[Shard] = []
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"the insert waited more than {seconds} s"
    return out[0]


def test_seal_rows_put_one_invisible_row_in_each_day_partition() -> None:
    last_part = (
        "version: 2\nparts count: 3\n"
        "20261205\t20261205_7_7_0\n20261206\t20261206_9_9_0\nx\tx_1_1_0\n"
    )
    partitions = quorum.last_quorum_partitions(last_part)
    assert partitions == ["20261205", "20261206", "x"]
    tenants, names, stamps, values = quorum.seal_rows(partitions, 7.0)
    assert stamps == [1_796_428_800_000, 1_796_515_200_000]  # 2026-12-05 and -06, 00:00 UTC
    assert tenants == names == ["", ""]  # no request can name the empty tenant
    assert values == [7.0, 7.0]
