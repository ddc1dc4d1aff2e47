"""DynamoDBStateStore against DynamoDB on the moto server (real HTTP, real conditional writes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from tests.support.clock import Clock

TABLE = "dasalert-state"


@pytest.fixture
def ddb(aws: str):
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    return client


def test_table_has_ttl_on_expires_at(ddb) -> None:
    ttl = ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    assert ttl["TimeToLiveStatus"] in {"ENABLED", "ENABLING"}


def test_counters_add_and_read_back(ddb) -> None:
    store = DynamoDBStateStore(TABLE, ddb, clock=Clock(1000))
    assert store.incr("t#rule#k", expires_at=2000) == 1
    assert store.incr("t#rule#k", 3, expires_at=2000) == 4
    assert store.get_counts(["t#rule#k", "absent"]) == {"t#rule#k": 4, "absent": 0}
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "c#t#rule#k"}, "sk": {"S": "-"}})
    assert item["Item"]["expires_at"] == {"N": "2000"}  # the TTL attribute DynamoDB deletes by


def test_get_counts_pages_past_the_batch_get_limit(ddb) -> None:
    store = DynamoDBStateStore(TABLE, ddb, clock=None)
    keys = [f"k{i}" for i in range(130)]
    for i, key in enumerate(keys):
        if i % 2:
            store.incr(key, i, expires_at=10)
    counts = store.get_counts(keys)
    assert counts == {k: (i if i % 2 else 0) for i, k in enumerate(keys)}


def test_expired_counter_restarts_even_before_dynamodb_deletes_it(ddb) -> None:
    clock = Clock(1000)
    store = DynamoDBStateStore(TABLE, ddb, clock=clock)
    store.incr("k", 5, expires_at=1100)
    clock.now = 1200  # TTL passed; the item is still in the table
    assert store.get_counts(["k"]) == {"k": 0}
    assert store.incr("k", expires_at=1300) == 1
    assert store.incr("k", expires_at=1300) == 2


def test_add_once_is_true_only_for_the_first_of_two_stores(ddb) -> None:
    clock = Clock(1000)
    a = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
    b = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
    assert a.add_once("sent#slack#abc", expires_at=5000) is True
    assert b.add_once("sent#slack#abc", expires_at=5000) is False
    assert a.add_once("sent#slack#abc", expires_at=5000) is False
    clock.now = 6000  # expired marker counts as absent
    assert b.add_once("sent#slack#abc", expires_at=9000) is True


def test_concurrent_stores_never_lose_an_increment_nor_share_a_marker(ddb) -> None:
    stores = [DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=None) for _ in range(2)]

    def work(i: int) -> tuple[int, bool]:
        store = stores[i % 2]
        return store.incr("shared", expires_at=10), store.add_once("once", expires_at=10)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(40)))
    totals = sorted(r[0] for r in results)
    assert totals == list(range(1, 41))  # every increment returned a distinct running total
    assert sum(r[1] for r in results) == 1
    assert stores[0].get_counts(["shared"]) == {"shared": 40}


def test_record_max_keeps_the_largest_and_reads_a_namespace(ddb) -> None:
    a = DynamoDBStateStore(TABLE, ddb, clock=Clock(100))
    b = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=Clock(100))
    a.record_max("heartbeat", "cluster-A", 50)
    b.record_max("heartbeat", "cluster-A", 40)  # older: ignored
    b.record_max("heartbeat", "cluster-A", 60.5)
    a.record_max("heartbeat", "db-B", 10, expires_at=1000)
    a.record_max("other", "x", 1)
    assert a.read_namespace("heartbeat") == {"cluster-A": 60.5, "db-B": 10}
    assert b.read_namespace("missing") == {}
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "m#heartbeat"}, "sk": {"S": "db-B"}})
    assert item["Item"]["expires_at"] == {"N": "1000"}


def test_very_long_keys_are_hashed_not_rejected(ddb) -> None:
    store = DynamoDBStateStore(TABLE, ddb, clock=None)
    long_key = "dedup#" + "x" * 5000
    assert store.add_once(long_key, expires_at=10) is True
    assert store.add_once(long_key, expires_at=10) is False
    assert store.incr(long_key, expires_at=10) == 1
    assert store.get_counts([long_key]) == {long_key: 1}
