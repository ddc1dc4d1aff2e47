"""``first_seen.dormant``: a known value seen again after a long silence (a dormant account back).

Plain first-seen cannot say this: a value is forgotten when its item expires, expiry is
approximate (``remember`` to 1.5 x ``remember``, and DynamoDB deletes expired items days late),
and a forgotten value is indistinguishable from one never seen, so "back after 30 days" would
alert on every new user and miss returns whose item had not been deleted yet. The dormant form
records when a value was last seen and judges the silence in event time. Every behaviour runs on
the memory store and on DynamoDB (moto server, real HTTP), batch by batch as the Lambda does.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from engine.pipeline.state import MemoryStateStore, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.lang.loader import load_rule_text
from engine.rules.model import dormant_step_s
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from tests.rules.runtime.test_stateful_rules import load, ok

DAY = 86400
DORMANT = """
id: dormant
title: "{dbUserName} is back"
severity: medium
when: "das.action == 'CONNECT'"
first_seen:
  key: dbUserName
  scope: das.clusterId
  dormant: 30d
  remember: 400d
"""
TABLE = "dasalert-state"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    request.getfixturevalue("aws")
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    return DynamoDBStateStore(TABLE, client)


def run(store: StateStore, *batches: list) -> list:
    """Each batch through a fresh engine (a cold start): only the store carries anything."""
    alerts = []
    for batch in batches:
        alerts += Engine(RuleSet([load(DORMANT)]), store).process(batch).alerts
    return alerts


def test_a_return_after_the_silence_alerts_once_with_when_it_was_last_seen(store) -> None:
    alerts = run(store, [ok(0)], [ok(2 * DAY)], [ok(40 * DAY), ok(40 * DAY + 60)], [ok(41 * DAY)])
    assert len(alerts) == 1
    fs = alerts[0].context["first_seen"]
    assert fs["value"] == "app" and fs["silent_days"] == 38 and fs["dormant_s"] == 30 * DAY
    assert fs["last_seen"] == "2026-03-04T10:00:00.000000Z"  # ok(2 * DAY): T0 + 2 days


def test_regular_use_is_never_dormant_and_new_users_are_only_learned(store) -> None:
    batches = [[ok(d * DAY)] for d in range(0, 200, 25)]
    batches.append([ok(150 * DAY, user="newcomer")])
    assert run(store, *batches) == []


def test_the_silence_is_judged_to_within_the_recorded_step(store) -> None:
    """Never alerts before `dormant`; always after `dormant` plus the step (a day here)."""
    step = dormant_step_s(30 * DAY)
    assert step == DAY
    assert run(store, [ok(0)], [ok(30 * DAY - 1)]) == []
    assert len(run(store, [ok(60 * DAY + step)])) == 1  # 30 days + 1 day after the last sighting


def test_a_sighting_refreshes_the_last_seen_so_the_silence_restarts(store) -> None:
    # seen on days 0, 20, 40: no silence reaches 30 days, though day 40 is 40 days after day 0
    assert run(store, [ok(0)], [ok(20 * DAY)], [ok(40 * DAY)]) == []
    assert len(run(store, [ok(75 * DAY)])) == 1


def test_gaps_inside_one_batch_are_judged_like_gaps_across_batches(store) -> None:
    """`dasalert eval` over a month-long capture is one batch: the silence is still seen."""
    one = run(store, [ok(0), ok(DAY), ok(45 * DAY), ok(45 * DAY + 5), ok(100 * DAY)])
    assert [a.context["first_seen"]["silent_days"] for a in one] == [44, 54]


def test_a_redelivered_return_resends_the_same_alert_even_after_later_sightings(store) -> None:
    first = run(store, [ok(0)], [ok(40 * DAY)])
    assert len(first) == 1
    again = run(store, [ok(40 * DAY)])
    assert [a.id for a in again] == [first[0].id] and again[0].context["replay"] is True
    assert again[0].context["first_seen"]["silent_days"] == 40
    run(store, [ok(43 * DAY)])  # a later sighting rewrites the last seen
    later = run(store, [ok(40 * DAY)])
    assert [a.id for a in later] == [first[0].id]


def test_scopes_and_values_are_separate(store) -> None:
    other = ok(40 * DAY)
    other["das"]["clusterId"] = "cluster-B"  # first sighting there: learned, not dormant
    assert run(store, [ok(0), ok(0, user="bob")], [other, ok(40 * DAY, user="carol")]) == []
    assert [a.context["first_seen"]["value"] for a in run(store, [ok(50 * DAY, user="bob")])] == [
        "bob"
    ]


def test_two_invocations_seeing_the_same_return_alert_once(aws) -> None:
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    run(DynamoDBStateStore(TABLE, client), [ok(0)])
    barrier = threading.Barrier(2)

    def invoke(batch):
        store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"))
        engine = Engine(RuleSet([load(DORMANT)]), store)
        barrier.wait()
        return engine.process(batch).alerts

    with ThreadPoolExecutor(2) as pool:
        got = [
            a for alerts in pool.map(invoke, [[ok(40 * DAY)], [ok(40 * DAY + 3)]]) for a in alerts
        ]
    assert len(got) == 1


def test_a_batch_costs_one_read_and_one_write_call_however_many_users(aws) -> None:
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    store = DynamoDBStateStore(TABLE, client)
    users = [f"u{i}" for i in range(20)]
    run(store, [ok(0, user=u) for u in users])
    calls: Counter[str] = Counter()
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
    )
    # 20 users seen again the next hour: known, not dormant, last seen still fresh: no writes
    assert run(store, [ok(3600 + i, user=u) for i, u in enumerate(users)]) == []
    assert calls == Counter({"BatchGetItem": 1})
    calls.clear()
    # 20 users back after 40 days: one read, a claim per return, one batched write
    assert len(run(store, [ok(40 * DAY + i, user=u) for i, u in enumerate(users)])) == 20
    assert calls["BatchGetItem"] == 1
    assert calls["PutItem"] == 20  # the conditional claim of each return
    assert calls["BatchWriteItem"] == 1
    assert sum(calls.values()) == 1 + 20 + 1 + calls["Query"]  # Query: the mutes, if read


@pytest.mark.parametrize(
    ("change", "needle", "hint"),
    [
        ("remember: 400d", "remember: 20d", "`first_seen.remember` must be longer than `dormant`"),
        ("dormant: 30d", "dormant: soon", "`first_seen.dormant` must be a duration"),
        ("dormant: 30d", "dormant: 500d", "`first_seen.dormant` must be between"),
    ],
)
def test_problems_point_at_the_line_with_a_fix(change: str, needle: str, hint: str) -> None:
    rule, problems, _ = load_rule_text(DORMANT.replace(change, needle), "r.yaml")
    assert rule is None
    found = [p for p in problems if hint in p.message]
    assert found, [str(p) for p in problems]
    assert found[0].file == "r.yaml" and found[0].line == 1 + DORMANT.splitlines().index(
        "  " + change
    )
    assert found[0].suggestion


def test_remember_defaults_to_outlive_the_silence_and_learn_is_not_needed() -> None:
    rule = load(DORMANT.replace("  remember: 400d\n", "").replace("30d", "120d"))
    assert rule.first_seen is not None
    assert rule.first_seen.learn_s == 0
    assert rule.first_seen.remember_s >= 121 * DAY
    plain, problems, _ = load_rule_text(DORMANT.replace("  dormant: 30d\n", ""), "r.yaml")
    assert plain is None and any("needs `learn`" in p.message for p in problems)
