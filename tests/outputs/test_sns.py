"""The SNS output through moto: an SQS subscription reads back what subscribers get."""

from __future__ import annotations

import json

import boto3
import pytest

from engine.outputs.base import Status
from engine.outputs.retry import RetryPolicy
from engine.outputs.routing import Router
from engine.outputs.sns import MAX_BYTES, SCHEMA, TRUNCATED_MARK, SnsOutput, encode_message
from engine.pipeline.env import ConfigError
from tests.outputs.factory import make_alert


def topic_with_queue(raw: bool, fifo: bool = False) -> tuple[str, str]:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    suffix = ".fifo" if fifo else ""
    topic_attrs = {"FifoTopic": "true"} if fifo else {}
    topic = sns.create_topic(Name=f"dasalert-alerts{suffix}", Attributes=topic_attrs)["TopicArn"]
    q_attrs = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=f"dasalert-sub{suffix}", Attributes=q_attrs)["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=qarn,
        Attributes={"RawMessageDelivery": "true" if raw else "false"},
    )
    return topic, url


def drain(url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    out: list[dict] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not got:
            return out
        out.extend(got)
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def batch_sizes(client) -> list[int]:
    """Observe (not alter) each PublishBatch call's entry count and request bytes."""
    calls: list[int] = []

    def record(params, **_):
        calls.append(len(params["PublishBatchRequestEntries"]))

    client.meta.events.register("provide-client-params.sns.PublishBatch", record)
    return calls


def output(topic: str) -> SnsOutput:
    return SnsOutput(boto3.client("sns"), topic, policy=RetryPolicy(sleeper=lambda s: None))


def test_raw_delivery_body_and_attributes(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    alert = make_alert(severity="critical")
    report = output(topic).send([alert])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    (msg,) = drain(url)
    doc = json.loads(msg["Body"])
    assert doc["schema"] == SCHEMA and doc["truncated"] is False
    assert doc["id"] == alert.id and doc["rule_id"] == "ddl-by-non-admin"
    assert doc["event"]["commandText"] == "CREATE TABLE t (id int)"
    attrs = {k: (v["DataType"], v["StringValue"]) for k, v in msg["MessageAttributes"].items()}
    assert attrs == {
        "severity": ("String", "critical"),
        "severity_rank": ("Number", "4"),
        "rule_id": ("String", "ddl-by-non-admin"),
        "cluster": ("String", "cluster-ABCDEFGHIJKLMNOP"),
        "kind": ("String", "rule"),
        "alert_id": ("String", alert.id),
    }


def test_envelope_delivery_carries_attributes_and_subject(aws) -> None:
    topic, url = topic_with_queue(raw=False)
    output(topic).send([make_alert(title="DDL by \n<x> é")])
    (msg,) = drain(url)
    envelope = json.loads(msg["Body"])
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    assert json.loads(envelope["Message"])["schema"] == SCHEMA
    assert envelope["MessageAttributes"]["severity"] == {"Type": "String", "Value": "high"}
    assert envelope["MessageAttributes"]["severity_rank"] == {"Type": "Number", "Value": "3"}
    assert envelope["Subject"] == "[dasalert HIGH] DDL by <x>"


def test_23_alerts_go_in_batches_of_10(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    out = output(topic)
    calls = batch_sizes(out.client)
    alerts = [make_alert(i) for i in range(23)]
    report = out.send(alerts)
    assert calls == [10, 10, 3]
    assert [d.alert_id for d in report.deliveries] == [a.id for a in alerts]
    assert all(d.status is Status.DELIVERED for d in report.deliveries)
    got = sorted(json.loads(m["Body"])["id"] for m in drain(url))
    assert got == sorted(a.id for a in alerts)


def test_request_size_limit_splits_batches(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    out = output(topic)
    calls = batch_sizes(out.client)
    alerts = [make_alert(i, event_updates={"commandText": "x" * 100_000}) for i in range(5)]
    report = out.send(alerts)
    assert calls == [2, 2, 1]  # 3 × 100 KB would pass the 256 KiB request limit
    assert all(d.status is Status.DELIVERED for d in report.deliveries)
    assert len(drain(url)) == 5


def test_oversize_event_is_trimmed_and_says_so(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    huge = "SELECT '" + "é" * 200_000 + "'"  # 400 KB in UTF-8
    alert = make_alert(event_updates={"commandText": huge, "other": "kept"})
    report = output(topic).send([alert])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    (msg,) = drain(url)
    assert len(msg["Body"].encode()) <= MAX_BYTES
    doc = json.loads(msg["Body"])
    assert doc["truncated"] is True
    assert doc["event"]["commandText"].endswith(TRUNCATED_MARK)
    assert doc["event"]["other"] == "kept" and doc["event"]["das"]["action"] == "DDL"


def test_event_with_too_many_fields_keeps_das() -> None:
    alert = make_alert(event_updates={f"f{i}": "v" * 300 for i in range(2000)})
    doc = json.loads(encode_message(alert, 100_000))
    assert doc["truncated"] is True and doc["event"]["das"]["clusterId"]
    assert len(json.dumps(doc, ensure_ascii=False).encode()) <= 100_000


def test_fifo_topic_sets_group_and_dedup_ids(aws) -> None:
    topic, url = topic_with_queue(raw=True, fifo=True)
    out = output(topic)
    assert out.fifo
    sent: list[dict] = []
    out.client.meta.events.register(
        "provide-client-params.sns.PublishBatch",
        lambda params, **_: sent.extend(params["PublishBatchRequestEntries"]),
    )
    alerts = [make_alert(1), make_alert(2, rule_id="other")]
    report = out.send(alerts)
    assert all(d.status is Status.DELIVERED for d in report.deliveries)
    assert [(e["MessageGroupId"], e["MessageDeduplicationId"]) for e in sent] == [
        ("ddl-by-non-admin", alerts[0].id),
        ("other", alerts[1].id),
    ]
    msgs = drain(url)
    assert sorted(json.loads(m["Body"])["id"] for m in msgs) == sorted(a.id for a in alerts)
    assert {m["Attributes"]["MessageGroupId"] for m in msgs} == {"ddl-by-non-admin", "other"}


def test_failed_entry_with_sender_fault_is_permanent(aws) -> None:
    """A FIFO-only field sent to a standard topic: SNS fails that entry with SenderFault."""
    topic, _ = topic_with_queue(raw=True)
    out = output(topic)
    out.fifo = True  # misconfigured on purpose
    report = out.send([make_alert()])
    (d,) = report.deliveries
    assert d.status is Status.PERMANENT and "InvalidParameter" in d.reason


def test_missing_topic_is_permanent(aws) -> None:
    out = output("arn:aws:sns:us-east-1:123456789012:does-not-exist")
    report = out.send([make_alert(1), make_alert(2)])
    assert [d.status for d in report.deliveries] == [Status.PERMANENT] * 2
    assert "NotFound" in report.deliveries[0].reason


def test_from_env_validates_topic_arn(aws) -> None:
    with pytest.raises(ConfigError, match="SNS_TOPIC_ARN: not an SNS topic ARN"):
        Router.from_env({"SNS_TOPIC_ARN": "my-topic"})
    with pytest.raises(ConfigError, match="SNS_TOPIC_ARN"):
        Router.from_env({"DASALERT_OUTPUTS": "sns"})
    topic, url = topic_with_queue(raw=True)
    router = Router.from_env({"SNS_TOPIC_ARN": topic})
    assert list(router.outputs) == ["sns", "console"]
    assert router.enabled == ("sns",)
    router.outputs["sns"].send([make_alert()])
    assert len(drain(url)) == 1
