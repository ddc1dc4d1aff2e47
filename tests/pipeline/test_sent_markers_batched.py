"""Sent markers are written together: a batch of many alerts costs one ``BatchWriteItem`` per 25
markers, not one update per alert, and a redelivery still sends nothing twice.

``put_counts`` is tested on both stores; the delivery on DynamoDB over the moto server, counting
the requests botocore sends (its ``before-send`` hook: one per HTTP attempt).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3

from engine.alerts import Alert
from engine.outputs.base import Deadline
from engine.outputs.routing import Router
from engine.pipeline.delivery import Deliverer, sent_key
from engine.pipeline.state import MemoryStateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from tests.pipeline.support import ListDeadLetters, ScriptedOutput
from tests.support.clock import Clock

TABLE = "dasalert-state"


def test_put_counts_writes_counters_get_counts_reads(make_store) -> None:
    store = make_store(Clock(50.0))
    values = {f"sent:slack:{i}": (1, 100.0) for i in range(60)}  # three batched writes
    store.put_counts(values)
    assert store.get_counts([*values, "sent:slack:other"]) == {
        **dict.fromkeys(values, 1),
        "sent:slack:other": 0,
    }
    store.put_counts({"sent:slack:0": (1, 100.0)})  # again: still set, not a count
    assert store.get_counts(["sent:slack:0"]) == {"sent:slack:0": 1}
    store.put_counts({})


def test_put_counts_expire_like_counters(aws: str) -> None:
    create_table(boto3.client("dynamodb"), TABLE)
    clock = Clock(50.0)
    store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
    store.put_counts({"sent:a": (1, 100.0)})
    clock.now = 100.0
    assert store.get_counts(["sent:a"]) == {"sent:a": 0}
    assert MemoryStateStore(now=100.0).get_counts(["sent:a"]) == {"sent:a": 0}


def alerts(n: int) -> list[Alert]:
    return [
        Alert(id=f"a{i}", rule_id="r", title=f"alert {i}", severity="high", event={})
        for i in range(n)
    ]


def test_a_flood_of_alerts_writes_its_sent_markers_in_batches(aws: str) -> None:
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    sent: Counter[str] = Counter()

    def on_send(request: Any, **_: Any) -> None:
        sent.update([request.headers.get("X-Amz-Target", b"?").decode().split(".")[-1]])

    client.meta.events.register("before-send.dynamodb.*", on_send)
    store = DynamoDBStateStore(TABLE, client)
    slack, hub = ScriptedOutput("slack"), ScriptedOutput("securityhub")
    outputs = {"slack": slack, "securityhub": hub}
    names = tuple(outputs)
    router = Router(outputs, names, dict.fromkeys(names, "info"), names, names)
    d = Deliverer(router, store, ListDeadLetters(), can_retry=True, clock=lambda: 1_000.0)
    batch = alerts(100)
    result = d.deliver(batch, Deadline())
    assert len(slack.sent) == len(hub.sent) == 100 and result.retry == {}
    # 200 markers: eight BatchWriteItem of 25, no update per alert; two reads of what was sent
    assert sent == {"BatchWriteItem": 8, "BatchGetItem": 2}
    assert store.get_counts([sent_key("slack", "a7")]) == {sent_key("slack", "a7"): 1}
    # a redelivery of the batch sends nothing again, and writes nothing
    sent.clear()
    again = d.deliver(batch, Deadline())
    assert again.already_sent == 200 and len(slack.sent) == 100
    assert sent == {"BatchGetItem": 2}


def test_only_delivered_alerts_are_marked() -> None:
    store = MemoryStateStore()
    out = ScriptedOutput("slack")
    out.fail_retryable = {"alert 3"}
    router = Router({"slack": out}, ("slack",), {"slack": "info"}, ("slack",), ("slack",))
    d = Deliverer(router, store, ListDeadLetters(), can_retry=True, clock=lambda: 1_000.0)
    result = d.deliver(alerts(5), Deadline())
    assert result.retry == {"a3": "output_slack"}
    keys = [sent_key("slack", f"a{i}") for i in range(5)]
    assert [store.get_counts(keys)[k] for k in keys] == [1, 1, 1, 0, 1]
