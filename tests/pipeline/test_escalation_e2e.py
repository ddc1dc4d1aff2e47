"""Noise cannot hide the real action: the shipped rules, the real Deliverer and Router, Slack (local
server, bot token) and SNS (moto, read back through SQS), a cold start before every batch.

A harmless statement opens the hour's dedup window of ``ddl-by-non-admin`` /
``privilege-change-by-non-admin``; the dangerous one that follows in a later batch must reach
Slack (parent updated in place, a reply in its thread) and SNS (an update of the same alert id),
and a redelivery of that batch must send nothing twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from engine.events import base_event, normalize
from engine.outputs.base import Deadline
from engine.outputs.routing import Router
from engine.pipeline.delivery import Deliverer
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.runtime.engine import Engine
from engine.rules.wiring import build_engine
from tests.pipeline.support import ListDeadLetters

RULES = Path(__file__).resolve().parents[2] / "rules"
TABLE = "esc-e2e-state"
T0 = dt.datetime(2026, 11, 27, 12, 0, 5, tzinfo=dt.UTC)
TOKEN = "xoxb-0000000000-e2e-token"
_ids = itertools.count(1)


def event(cls: str, command: str, sql: str, obj: str, at: float) -> dict[str, Any]:
    e = base_event("postgres")
    stamp = (T0 + dt.timedelta(seconds=at)).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    e.update(
        {
            "class": cls,
            "command": command,
            "commandText": sql,
            "objectName": obj,
            "dbUserName": "app",
            "logTime": stamp,
            "statementId": next(_ids),
        }
    )
    return normalize(e)


@pytest.fixture
def world(aws: str, slack: Any) -> dict[str, Any]:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="dasalert-esc")["TopicArn"]
    queue = sqs.create_queue(QueueName="esc-reader")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    create_table(boto3.client("dynamodb"), TABLE)
    env = {
        "DASALERT_OUTPUTS": "slack,sns",
        "SNS_TOPIC_ARN": topic,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": slack.api_url,
        "SLACK_CHANNELS": "#sec-alerts",
        "AWS_REGION": "us-east-1",
    }
    ruleset = build_engine(RULES).engine.ruleset  # the shipped pack, loaded once
    return {"env": env, "queue": queue, "slack": slack, "ruleset": ruleset}


def cold_batch(world: dict[str, Any], events: list[dict]) -> list[Any]:
    """One batch as a fresh container would run it: new store object, engine, router."""
    state = DynamoDBStateStore(TABLE, boto3.client("dynamodb"))
    alerts = Engine(world["ruleset"], state).process(events).alerts
    router = Router.from_env(world["env"], sleeper=lambda s: None)
    deliverer = Deliverer(router, state, ListDeadLetters(), can_retry=True)
    result = deliverer.deliver(alerts, Deadline())
    assert result.retry == {} and result.dead_lettered == 0
    return alerts


def sns_docs(queue: str) -> list[dict]:
    sqs = boto3.client("sqs")
    out = []
    while got := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            out.append(json.loads(json.loads(m["Body"])["Message"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return out


def escalation_of(doc: dict) -> dict | None:
    return doc.get("escalation") or (doc.get("context") or {}).get("escalation")


def slack_calls(slack: Any) -> list[tuple[str, dict]]:
    return [(r.path.rsplit("/", 1)[-1], r.json) for r in slack.requests]


@pytest.mark.parametrize(
    ("rule_id", "harmless", "dangerous", "verb"),
    [
        (
            "ddl-by-non-admin",
            ("DDL", "CREATE TABLE", "CREATE TEMP TABLE scratch (x int)", "scratch"),
            ("DDL", "DROP TABLE", "DROP TABLE audit_log", "public.audit_log"),
            "DROP TABLE",
        ),
        (
            "privilege-change-by-non-admin",
            ("ROLE", "GRANT", "GRANT SELECT ON orders TO reporting", "orders"),
            ("ROLE", "ALTER ROLE", "ALTER ROLE app SUPERUSER", "app"),
            "ALTER ROLE",
        ),
    ],
)
def test_a_dangerous_statement_after_a_harmless_one_reaches_slack_and_sns(
    world: dict[str, Any], rule_id: str, harmless: tuple, dangerous: tuple, verb: str
) -> None:
    slack, queue = world["slack"], world["queue"]
    (opened,) = [a for a in cold_batch(world, [event(*harmless, at=0)]) if a.rule_id == rule_id]
    assert [c for c, _ in slack_calls(slack)] == ["chat.postMessage"]
    assert [d["id"] for d in sns_docs(queue) if d.get("rule_id") == rule_id] == [opened.id]
    slack.reset()

    # a plain update (the same harmless statement again): Slack and SNS stay quiet
    cold_batch(world, [event(*harmless, at=60)])
    assert slack.requests == [] and sns_docs(queue) == []

    second = [event(*dangerous, at=120)]
    alerts = [a for a in cold_batch(world, second) if a.rule_id == rule_id]
    (update,) = alerts
    assert update.id == opened.id and update.count == 3
    assert update.escalation is not None and f"new verb: {verb}" in update.escalation["reasons"]
    (edit_call, edit), (reply_call, reply) = [
        c for c in slack_calls(slack) if c[1].get("ts") or c[1].get("thread_ts")
    ]
    assert edit_call == "chat.update" and reply_call == "chat.postMessage"
    assert reply["thread_ts"] == edit["ts"] and reply["reply_broadcast"] is True
    assert verb in json.dumps(reply["blocks"]) and verb in json.dumps(edit["blocks"])
    (doc,) = [d for d in sns_docs(queue) if d.get("id") == opened.id or d.get("update_of")]
    esc = escalation_of(doc)
    assert esc is not None and esc["step"] == 1 and f"new verb: {verb}" in esc["reasons"]
    slack.reset()

    # Kinesis redelivers the batch (another record failed): nothing is sent twice
    cold_batch(world, second)
    assert [c for c in slack_calls(slack) if c[1].get("ts") or c[1].get("thread_ts")] == []
    assert [d for d in sns_docs(queue) if d.get("id") == opened.id or d.get("update_of")] == []


def test_webhook_mode_posts_one_follow_up_per_step_and_none_on_redelivery(
    world: dict[str, Any],
) -> None:
    slack = world["slack"]
    world["env"] = {k: v for k, v in world["env"].items() if not k.startswith("SLACK_")} | {
        "SLACK_WEBHOOK_URL": slack.webhook_url
    }
    ddl = ("DDL", "CREATE TABLE", "CREATE TEMP TABLE scratch (x int)", "scratch")
    drop = ("DDL", "DROP TABLE", "DROP TABLE audit_log", "public.audit_log")
    cold_batch(world, [event(*ddl, at=0)])
    second = [event(*drop, at=120)]
    cold_batch(world, second)
    cold_batch(world, second)  # redelivered
    posts = [json.dumps(r.json) for r in slack.requests]
    assert all(r.path == slack.webhook_path for r in slack.requests)
    parents = [p for p in posts if "Escalation" not in p]
    (follow_up,) = [p for p in posts if "Escalation 1" in p]
    assert len(parents) == 1 and "new verb: DROP TABLE" in follow_up
