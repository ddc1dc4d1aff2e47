"""The batched state operations (``add_once_many``, ``add_counts``) on both stores.

DynamoDB runs on the moto server (real HTTP, real transactions and their cancellation reasons):
the per-key promises of ``add_once`` / ``incr`` must hold for batches too, including across two
stores writing the same keys at once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from engine.pipeline.state import StatePermanentError
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from tests.support.clock import Clock

TABLE = "dasalert-state"


def test_add_once_many_returns_the_new_keys_and_shares_add_once_storage(make_store) -> None:
    store = make_store()
    assert store.add_once("k1", expires_at=100) is True
    assert store.add_once_many(["k1", "k2", "k3", "k2"], expires_at=100) == {"k2", "k3"}
    assert store.add_once_many(["k1", "k2", "k3"], expires_at=100) == set()  # a redelivery
    assert store.add_once("k3", expires_at=100) is False
    assert store.add_once_many([], expires_at=100) == set()


def test_add_once_many_past_one_transaction_and_half_redelivered(make_store) -> None:
    store = make_store()
    first = [f"seen:r:{i}" for i in range(0, 250, 2)]  # 125 keys: two transactions
    assert store.add_once_many(first, expires_at=100) == set(first)
    every = [f"seen:r:{i}" for i in range(250)]  # half known, interleaved in every chunk
    assert store.add_once_many(every, expires_at=100) == set(every) - set(first)


def test_two_stores_at_once_each_with_its_own_events(make_store) -> None:
    """Two invocations (two shards) mark their own events at the same time, then one of them is
    redelivered: nothing is new twice, nothing is lost."""
    stores = [make_store(), make_store()]
    keys = [[f"shard{s}:fp{i}" for i in range(130)] for s in range(2)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = list(pool.map(lambda s: stores[s].add_once_many(keys[s], expires_at=10), [0, 1]))
    assert first == [set(keys[0]), set(keys[1])]
    assert stores[1].add_once_many(keys[0] + keys[1], expires_at=10) == set()


def test_expired_markers_are_new_again_before_dynamodb_deletes_them(aws) -> None:
    create_table(boto3.client("dynamodb"), TABLE)
    clock = Clock(1000)
    store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
    assert store.add_once_many(["a", "b"], expires_at=1100) == {"a", "b"}
    clock.now = 1200
    assert store.add_once_many(["a", "c"], expires_at=1300) == {"a", "c"}
    assert store.add_once_many(["a", "b", "c"], expires_at=1300) == {"b"}  # b expired too
    assert store.add_once_many(["a", "b", "c"], expires_at=1300) == set()


def test_add_counts_adds_per_counter_and_never_loses_a_concurrent_add(make_store) -> None:
    stores = [make_store(), make_store()]
    keys = [f"tc:r:{i}" for i in range(30)]

    def work(i: int) -> None:
        stores[i % 2].add_counts({k: (1 + (j % 3), 50) for j, k in enumerate(keys)})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(6)))
    # a correction (a redelivery taken back) and a zero (nothing to send)
    stores[0].add_counts({keys[0]: (-2, 50), keys[1]: (0, 50)})
    counts = stores[1].get_counts(keys)
    assert counts == {k: 6 * (1 + (j % 3)) - (2 if j == 0 else 0) for j, k in enumerate(keys)}


def test_add_counts_restarts_an_expired_counter(aws) -> None:
    create_table(boto3.client("dynamodb"), TABLE)
    clock = Clock(1000)
    store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
    store.add_counts({"a": (5, 1100), "b": (1, 5000)})
    clock.now = 1200  # "a" expired, still in the table
    store.add_counts({"a": (2, 1300), "b": (1, 5000)})
    assert store.get_counts(["a", "b"]) == {"a": 2, "b": 2}


def test_a_missing_table_is_a_permanent_error_not_an_answer(aws) -> None:
    store = DynamoDBStateStore("no-such-table", boto3.client("dynamodb"))
    with pytest.raises(StatePermanentError):
        store.add_once_many(["k"], expires_at=10)
    with pytest.raises(StatePermanentError):
        store.add_counts({"k": (1, 10)})
