"""SNS through moto: the e-mail body beside the JSON document, and update documents.

What subscribers receive is read back through SQS subscriptions (raw and envelope delivery);
what was published (the whole ``MessageStructure=json`` message, of which SQS only gets the
``default``) is observed on botocore's ``provide-client-params`` event, never altered.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts import Alert
from engine.events import normalize
from engine.outputs.base import Status
from engine.outputs.sns import (
    MAX_BYTES,
    SCHEMA,
    TRUNCATED_MARK,
    SnsOutput,
    email_text,
    encode_envelope,
)
from engine.pipeline.state import MemoryStateStore
from engine.rules import build_engine
from tests.outputs.factory import HOSTILE, make_alert
from tests.outputs.test_sns import drain, output, topic_with_queue
from tests.pipeline.support import CLUSTER, INSTANCE, ddl, write_rules

FOLDED = {
    "verbs": ["CREATE TABLE", "DROP TABLE"],
    "objects": ["public.audit_log"],
    "users": ["app"],
    "hosts": ["10.0.1.23"],
    "more": {},
}


def published(client: Any) -> list[dict[str, Any]]:
    """Every PublishBatch entry ``client`` sends (observed, not altered)."""
    entries: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        entries.extend(params["PublishBatchRequestEntries"])

    client.meta.events.register("provide-client-params.sns.PublishBatch", record)
    return entries


def update_of(alert: Alert, step: int = 2) -> Alert:
    ctx = {
        **alert.context,
        "folded": FOLDED,
        "escalation": {
            "step": step,
            "reasons": ["new verb: DROP TABLE", "count passed 100"],
            "previous_severity": "high",
        },
    }
    return dataclasses.replace(alert, severity="critical", count=120, context=ctx)


def subscribe(topic: str, name: str, policy: dict[str, Any]) -> str:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(policy)},
    )
    return url


def test_email_is_plain_text_and_queues_get_the_document_unchanged(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    out = output(topic)
    sent = published(out.client)
    alert = make_alert(title=f"DDL by {HOSTILE}", event_updates={"dbUserName": HOSTILE})
    assert [d.status for d in out.send([alert]).deliveries] == [Status.DELIVERED]
    (entry,) = sent
    assert entry["MessageStructure"] == "json"
    structure = json.loads(entry["Message"])
    assert set(structure) == {"default", "email"}
    (msg,) = drain(url)
    assert msg["Body"] == structure["default"]  # SQS subscribers: the document, as before
    assert json.loads(msg["Body"])["schema"] == SCHEMA
    email = structure["email"]
    assert not email.lstrip().startswith("{")  # text, not JSON
    assert "orders" in email and "ddl-by-non-admin" in email and "CREATE TABLE t" in email
    for bad in ("\x07", "\x1b", "\u202e", "\r"):
        assert bad not in email


def test_envelope_delivery_still_carries_the_document(aws) -> None:
    topic, url = topic_with_queue(raw=False)
    out = output(topic)
    sent = published(out.client)
    out.send([make_alert()])
    (msg,) = drain(url)
    envelope = json.loads(msg["Body"])
    assert envelope["Message"] == json.loads(sent[0]["Message"])["default"]
    assert json.loads(envelope["Message"])["schema"] == SCHEMA


def test_an_update_references_the_original_and_is_filterable(aws) -> None:
    topic, everything = topic_with_queue(raw=True)
    alerts_only = subscribe(topic, "alerts-only", {"kind": ["rule"]})
    updates_only = subscribe(topic, "updates-only", {"kind": ["update"]})
    out = output(topic)
    sent = published(out.client)
    original = make_alert()
    out.send([original])
    out.send([update_of(original)])
    [first, second] = [json.loads(m["Body"]) for m in drain(everything)]
    assert "update_of" not in first and first["count"] == 1
    assert second["update_of"] == original.id and second["id"] == original.id
    assert second["escalation"] == {
        "step": 2,
        "reasons": ["new verb: DROP TABLE", "count passed 100"],
        "previous_severity": "high",
    }
    assert second["count"] == 120 and second["severity"] == "critical"
    assert second["context"]["folded"]["verbs"] == ["CREATE TABLE", "DROP TABLE"]
    assert [json.loads(m["Body"]).get("update_of") for m in drain(alerts_only)] == [None]
    [upd] = drain(updates_only)
    attrs = {k: v["StringValue"] for k, v in upd["MessageAttributes"].items()}
    assert attrs["kind"] == "update" and attrs["escalation_step"] == "2"
    assert attrs["alert_id"] == original.id and attrs["severity"] == "critical"
    assert sent[1]["Subject"].startswith("[dasalert CRITICAL update 2] ")
    email = json.loads(sent[1]["Message"])["email"]
    assert "Escalated (update 2): new verb: DROP TABLE; count passed 100" in email


def test_fifo_updates_are_deduplicated_per_step(aws) -> None:
    topic, url = topic_with_queue(raw=True, fifo=True)
    out = output(topic)
    sent = published(out.client)
    original = make_alert()
    out.send([original, update_of(original, 1), update_of(original, 2)])
    dedup = [e["MessageDeduplicationId"] for e in sent]
    assert dedup == [original.id, f"{original.id}:1", f"{original.id}:2"]
    assert len(drain(url)) == 3


def test_the_whole_envelope_stays_within_256_kib(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    out = output(topic)
    sent = published(out.client)
    quoted = 'SELECT "' + '\\"é' * 60_000 + '"'  # escaping doubles it inside the envelope
    alert = update_of(make_alert(event_updates={"commandText": quoted}))
    assert [d.status for d in out.send([alert]).deliveries] == [Status.DELIVERED]
    (entry,) = sent
    attrs = sum(
        len(k) + len(v["DataType"]) + len(v["StringValue"])
        for k, v in entry["MessageAttributes"].items()
    )
    assert len(entry["Message"].encode()) + len(entry["Subject"].encode()) + attrs <= MAX_BYTES
    structure = json.loads(entry["Message"])
    doc = json.loads(structure["default"])
    assert doc["truncated"] is True and doc["update_of"] == alert.id
    assert doc["event"]["commandText"].endswith(TRUNCATED_MARK)
    assert "Escalated (update 2)" in structure["email"]
    (msg,) = drain(url)
    assert json.loads(msg["Body"])["update_of"] == alert.id


def test_a_malformed_context_is_an_alert_not_an_update(aws) -> None:
    # folded and escalation of the wrong shape (another writer's bug) must not cost the alert
    topic, url = topic_with_queue(raw=True)
    out = SnsOutput(boto3.client("sns"), topic)
    sent = published(out.client)
    alert = make_alert(context={"folded": {"verbs": 5, "more": "x"}, "escalation": "nope"})
    assert [d.status for d in out.send([alert]).deliveries] == [Status.DELIVERED]
    doc = json.loads(drain(url)[0]["Body"])
    assert doc["id"] == alert.id and "update_of" not in doc
    assert sent[0]["MessageAttributes"]["kind"]["StringValue"] == "rule"
    assert alert.title in json.loads(sent[0]["Message"])["email"]


def test_the_email_shows_the_sql_as_the_engine_redacted_it(aws, tmp_path) -> None:
    engine = build_engine(write_rules(tmp_path / "rules"), MemoryStateStore()).engine
    sql = "CREATE USER bob WITH PASSWORD 'hunter2'"
    event = normalize(ddl("mallory", 1, sql=sql), cluster_id=CLUSTER, instance_id=INSTANCE)
    (alert,) = engine.process([event]).alerts
    topic, url = topic_with_queue(raw=False)
    out = output(topic)
    sent = published(out.client)
    out.send([alert])
    email = json.loads(sent[0]["Message"])["email"]
    assert "CREATE USER bob WITH PASSWORD '***'" in email
    assert "hunter2" not in sent[0]["Message"] and "hunter2" not in drain(url)[0]["Body"]


@settings(max_examples=60, deadline=None)
@given(
    sql=st.text(max_size=300).map(lambda t: t * 400),  # up to 120,000 characters, any kind
    title=st.text(max_size=200),
    budget=st.integers(min_value=8_192, max_value=MAX_BYTES),
)
def test_any_alert_fits_its_envelope_budget(sql: str, title: str, budget: int) -> None:
    alert = update_of(make_alert(title=title, event_updates={"commandText": sql}))
    email = email_text(alert)
    envelope = encode_envelope(alert, budget, email)
    assert len(envelope.encode()) <= budget
    structure = json.loads(envelope)
    assert json.loads(structure["default"])["update_of"] == alert.id
    assert structure["email"]
