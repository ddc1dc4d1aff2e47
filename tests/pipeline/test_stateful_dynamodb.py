"""The stateful rule types on DynamoDB (moto server, real HTTP): the store's batched and
conditional operations, concurrent invocations, and the number of calls a batch costs."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from tests.rules.runtime.test_engine import T0
from tests.rules.runtime.test_stateful_rules import FIRST_SEEN, SEQ, SPRAY, fail, load, ok

TABLE = "dasalert-state"


@pytest.fixture
def ddb(aws: str):
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    return client


def counted(client) -> Counter[str]:
    """Count the API calls a client makes (botocore's event hooks: the calls are real)."""
    calls: Counter[str] = Counter()

    def hook(model, **_kw) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.dynamodb.*", hook)
    return calls


def test_values_and_members_round_trip(ddb) -> None:
    store = DynamoDBStateStore(TABLE, ddb)
    assert store.put_if_absent("k", "one", expires_at=T0 + 60) == ("one", True)
    assert store.put_if_absent("k", "two", expires_at=T0 + 60) == ("one", False)
    store.put_values({f"v{i}": (str(i), T0 + i) for i in range(60)})  # more than one batch
    got = store.get_values(["k", "v59", "absent"])
    assert got == {"k": ("one", T0 + 60), "v59": ("59", T0 + 59), "absent": None}
    store.put_members([("ns", f"m{i}", float(i), T0 + 99) for i in range(40)])
    assert store.read_namespace("ns") == {f"m{i}": float(i) for i in range(40)}


def test_put_if_absent_has_one_winner_among_threads(ddb) -> None:
    store = DynamoDBStateStore(TABLE, ddb)
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda i: store.put_if_absent("x", str(i), expires_at=T0), range(8))
        )
    assert sum(new for _, new in results) == 1
    assert len({value for value, _ in results}) == 1


@pytest.mark.parametrize("text", [SEQ, FIRST_SEEN, SPRAY])
def test_two_concurrent_invocations_alert_once(ddb, text: str) -> None:
    """Two containers (own clients, own engines) finish the same incident at the same time."""
    rule = load(text)
    setup = Engine(RuleSet([rule]), DynamoDBStateStore(TABLE, boto3.client("dynamodb")))
    if rule.sequence:
        setup.process([fail(0), fail(1), fail(2)])
        batches = [[ok(3)], [ok(3.5)]]
    elif rule.first_seen:
        setup.process([ok(0, "10.0.0.1")])
        batches = [[ok(2 * 86400, "10.0.0.5")], [ok(2 * 86400 + 1, "10.0.0.5")]]
    else:
        setup.process([fail(0, user="a"), fail(1, user="b")])
        batches = [[fail(2, user="c")], [fail(3, user="d")]]
    barrier = threading.Barrier(2)

    def run(batch):
        engine = Engine(RuleSet([rule]), DynamoDBStateStore(TABLE, boto3.client("dynamodb")))
        barrier.wait()
        return engine.process(batch).alerts

    with ThreadPoolExecutor(2) as pool:
        alerts = [a for got in pool.map(run, batches) for a in got]
    assert len(alerts) == 1


def test_a_batch_costs_a_few_calls_not_one_per_event(ddb) -> None:
    client = boto3.client("dynamodb")
    calls = counted(client)
    store = DynamoDBStateStore(TABLE, client)
    engine = Engine(RuleSet([load(SEQ), load(SPRAY)]), store)
    hosts = [f"10.0.1.{i}" for i in range(10)]
    batch = [
        fail(i * 0.01, host=h, user=f"u{i % 7}") for i in range(200) for h in hosts[i % 10 :][:1]
    ]
    res = engine.process(batch)
    assert res.matched == 400  # 200 events, two rules each
    firings = len(res.alerts)
    assert firings == 10  # every host sprayed 7 users: one alert per host
    # per batch: the members of both rules in batched writes (30 + 70 items, 25 a call), the
    # sequence's heads and stored step events (10 + 30 items), one Query per host for the
    # distinct count (and one for the mutes, at the first firing); per firing: its slot, its
    # time, its summary
    assert calls["Query"] == 10 + 1
    assert calls["BatchWriteItem"] - firings <= 7
    assert calls["UpdateItem"] == 2 * firings
    assert sum(calls.values()) <= 18 + 3 * firings  # 77 calls for 400 matches


def test_memory_in_one_batch_and_dynamodb_in_small_batches_give_the_same_alerts(ddb) -> None:
    """The CLI (memory store, its own batching) and the Lambda (DynamoDB, record by record,
    cold starts) must agree: same alert ids for the same events."""
    from engine.pipeline.state import MemoryStateStore

    rules = [load(SEQ), load(FIRST_SEEN), load(SPRAY)]
    day = 86400
    events = (
        [ok(0, "10.0.0.1"), fail(10), fail(11, user="b"), fail(12, user="c")]
        + [ok(13), ok(2 * day, "10.0.0.1"), ok(2 * day + 1, "10.0.0.2")]
        + [fail(2 * day + i, "52.1.2.3", user=f"u{i}") for i in range(2, 6)]
        + [ok(2 * day + 7, "52.1.2.3")]
    )
    memory = Engine(RuleSet(rules), MemoryStateStore()).process(events).alerts
    lambda_ids: list[str] = []
    for i in range(0, len(events), 3):
        store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"))  # a cold start each time
        lambda_ids += [
            a.id for a in Engine(RuleSet(rules), store).process(events[i : i + 3]).alerts
        ]
    assert sorted(a.id for a in memory) == sorted(lambda_ids)
    assert {a.rule_id for a in memory} == {r.id for r in rules}
