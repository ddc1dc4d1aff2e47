"""The store operations that settle many dedup windows at once: ``add_once_each`` (markers with
their own expiries) and ``incr_many`` (counters, each new total), on both stores and in the
``StateStore`` defaults. DynamoDB runs on the moto server (real HTTP); requests are counted at
botocore's ``before-send`` hook."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from engine.pipeline.state import MemoryStateStore, StatePermanentError, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from tests.support.clock import Clock

TABLE = "dasalert-state"


class Defaults(MemoryStateStore):
    """The in-memory store with the ``StateStore`` defaults of the batched operations, recording
    the calls they make (what a store that does not override them gets)."""

    add_once_many = StateStore.add_once_many
    add_once_each = StateStore.add_once_each
    incr_many = StateStore.incr_many

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def add_once(self, key: str, *, expires_at: float) -> bool:
        self.calls.append(("add_once", expires_at))
        return super().add_once(key, expires_at=expires_at)

    def incr(self, key: str, amount: int = 1, *, expires_at: float) -> int:
        self.calls.append(("incr", key))
        return super().incr(key, amount, expires_at=expires_at)


# -- add_once_each ------------------------------------------------------------------------


def test_add_once_each_returns_the_new_keys_and_shares_the_markers(make_store) -> None:
    store = make_store()
    assert store.add_once("k1", expires_at=100) is True
    assert store.add_once_each({"k1": 100, "k2": 200, "k3": 300}) == {"k2", "k3"}
    assert store.add_once_each({"k1": 100, "k2": 200, "k3": 300}) == set()  # a redelivery
    assert store.add_once_many(["k2", "k4"], expires_at=50) == {"k4"}
    assert store.add_once("k4", expires_at=50) is False
    assert store.add_once_each({}) == set()


def test_add_once_each_past_the_batch_limits_half_redelivered(make_store) -> None:
    store = make_store()
    first = {f"seen:r:{i}": 1000 + i % 7 for i in range(0, 500, 2)}  # 250 keys, 7 expiries
    assert store.add_once_each(first) == set(first)
    every = {f"seen:r:{i}": 1000 + i % 7 for i in range(500)}  # half known, in every chunk
    assert store.add_once_each(every) == set(every) - set(first)


def test_two_stores_at_once_with_their_own_windows(make_store) -> None:
    stores = [make_store(), make_store()]
    keys = [{f"shard{s}:fp{i}": 10 + i % 3 for i in range(130)} for s in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = list(pool.map(lambda s: stores[s].add_once_each(keys[s]), [0, 1]))
    assert first == [set(keys[0]), set(keys[1])]
    assert stores[1].add_once_each({**keys[0], **keys[1]}) == set()


def test_each_marker_keeps_its_own_expiry_on_dynamodb(aws) -> None:
    """Read back through the clock: a marker is new again once its own expiry has passed."""
    create_table(boto3.client("dynamodb"), TABLE)
    clock = Clock(1000)
    store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
    assert store.add_once_each({"a": 1100, "b": 1300, "c": 1500}) == {"a", "b", "c"}
    clock.now = 1200  # a expired (still in the table), b and c alive
    assert store.add_once_each({"a": 1400, "b": 1400, "c": 1400}) == {"a"}
    clock.now = 1450  # a (rewritten to 1400) and b expired; c keeps its own 1500
    assert store.add_once_each({"a": 9000, "b": 9000, "c": 9000}) == {"a", "b"}
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": "o#c"}, "sk": {"S": "-"}}, ConsistentRead=True
    )
    assert item["Item"]["expires_at"] == {"N": "1500"}


def test_each_marker_keeps_its_own_expiry_in_memory() -> None:
    store = MemoryStateStore(now=1200)
    assert store.add_once_each({"dead": 1100, "alive": 1300}) == {"dead", "alive"}
    assert store.add_once_each({"dead": 1100, "alive": 1300}) == {"dead"}  # expired: new again
    assert store.add_once("alive", expires_at=5000) is False


def test_add_once_each_on_dynamodb_is_one_batch_whatever_the_expiries(aws) -> None:
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    sent: Counter[str] = Counter()
    client.meta.events.register(
        "before-send.dynamodb.*",
        lambda request, **_: sent.update(
            [request.headers.get("X-Amz-Target", b"?").decode().split(".")[-1]]
        ),
    )
    store = DynamoDBStateStore(TABLE, client)
    keys = {f"seen:r:{i}": 1000 + i for i in range(230)}  # 230 different expiries
    assert store.add_once_each(keys) == set(keys)
    assert sent == {"BatchGetItem": 3, "BatchWriteItem": 10}
    sent.clear()
    assert store.add_once_each(keys) == set()  # nothing new: nothing written
    assert sent == {"BatchGetItem": 3}


def test_the_default_add_once_each_makes_one_add_once_many_per_expiry() -> None:
    store = Defaults()
    assert store.add_once_each({"a": 10, "b": 20, "c": 10}) == {"a", "b", "c"}
    assert store.calls == [("add_once", 10), ("add_once", 10), ("add_once", 20)]
    assert store.add_once_each({"a": 10, "d": 30}) == {"d"}


# -- incr_many ----------------------------------------------------------------------------


def test_incr_many_returns_each_new_total(make_store) -> None:
    store = make_store()
    assert store.incr("dd:a", 4, expires_at=100) == 4
    assert store.incr_many({"dd:a": (2, 100), "dd:b": (3, 200)}) == {"dd:a": 6, "dd:b": 3}
    assert store.incr_many({}) == {}
    assert store.get_counts(["dd:a", "dd:b"]) == {"dd:a": 6, "dd:b": 3}


def test_of_concurrent_incr_many_exactly_one_opens_each_counter(make_store) -> None:
    """What a dedup window's opening relies on: of racing callers, one gets its own amount."""
    stores = [make_store(), make_store()]
    keys = [f"dd:w{i}" for i in range(40)]

    def work(i: int) -> dict[str, int]:
        return stores[i % 2].incr_many({k: (1 + i, 50) for k in keys})

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(work, range(4)))
    for k in keys:
        openers = [i for i, got in enumerate(answers) if got[k] == 1 + i]
        assert len(openers) == 1
        assert sorted(got[k] for got in answers)[-1] == 1 + 2 + 3 + 4
    assert set(stores[0].get_counts(keys).values()) == {10}


def test_incr_many_restarts_an_expired_counter(aws) -> None:
    create_table(boto3.client("dynamodb"), TABLE)
    clock = Clock(1000)
    store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
    assert store.incr_many({"a": (5, 1100), "b": (1, 5000)}) == {"a": 5, "b": 1}
    clock.now = 1200  # "a" expired, still in the table
    assert store.incr_many({"a": (2, 1300), "b": (1, 5000)}) == {"a": 2, "b": 2}


def test_incr_many_in_memory_restarts_an_expired_counter() -> None:
    store = MemoryStateStore(now=1200)
    assert store.incr_many({"a": (5, 1100), "b": (1, 5000)}) == {"a": 5, "b": 1}
    assert store.incr_many({"a": (2, 1300), "b": (1, 5000)}) == {"a": 2, "b": 2}


def test_incr_many_on_dynamodb_is_one_update_per_counter(aws) -> None:
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    sent: Counter[str] = Counter()
    client.meta.events.register(
        "before-send.dynamodb.*",
        lambda request, **_: sent.update(
            [request.headers.get("X-Amz-Target", b"?").decode().split(".")[-1]]
        ),
    )
    store = DynamoDBStateStore(TABLE, client)
    totals = store.incr_many({f"dd:{i}": (i + 1, 100) for i in range(30)})
    assert totals == {f"dd:{i}": i + 1 for i in range(30)}
    assert sent == {"UpdateItem": 30}


def test_the_default_incr_many_is_one_incr_per_counter() -> None:
    store = Defaults()
    assert store.incr_many({"a": (1, 10), "b": (2, 10)}) == {"a": 1, "b": 2}
    assert store.incr_many({"a": (1, 10)}) == {"a": 2}
    assert store.calls == [("incr", "a"), ("incr", "b"), ("incr", "a")]


def test_a_missing_table_is_a_permanent_error(aws) -> None:
    store = DynamoDBStateStore("no-such-table", boto3.client("dynamodb"))
    with pytest.raises(StatePermanentError):
        store.add_once_each({"k": 10, "j": 20})
    with pytest.raises(StatePermanentError):
        store.incr_many({"k": (1, 10), "j": (1, 10)})
