"""A deployed dasalert, on the moto server and the local Slack server.

``deployment`` creates what template.yaml creates (KMS key, topic with an SQS subscription to read
messages back, dead-letter queue, state table, Security Hub, the Slack secret), sets the
environment the template sets, and resets the handlers' per-container singletons, so each test
starts as a cold Lambda container.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from engine.das.encoder import Encoder, kinesis_event
from engine.das.keys import KmsKeyProvider
from engine.pipeline.state_dynamodb import create_table
from handlers import _runtime
from tests.pipeline.support import ARN, CLUSTER, encode, write_rules

TABLE = "dasalert-state"


@dataclass
class Deployment:
    kms: Any
    key_arn: str
    topic_arn: str
    subscription_url: str
    dlq_url: str
    slack: Any
    encoder: Encoder
    monkeypatch: pytest.MonkeyPatch

    def event(self, *batches: list[dict], heartbeats: int = 0, first: int = 1000) -> dict:
        """A Kinesis event: one record per list of events."""
        payloads = [encode(self.encoder, events, heartbeats=heartbeats) for events in batches]
        return kinesis_event(payloads, ARN, first_sequence=first)

    def sns_messages(self) -> list[dict]:
        """Alert documents published to the topic, read back from its SQS subscription."""
        sqs = boto3.client("sqs")
        out = []
        while True:
            got = sqs.receive_message(
                QueueUrl=self.subscription_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(json.loads(m["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.subscription_url, ReceiptHandle=m["ReceiptHandle"])

    def dead_letters(self) -> list[dict]:
        sqs = boto3.client("sqs")
        out = []
        while True:
            got = sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=m["ReceiptHandle"])

    def findings(self) -> list[dict]:
        return boto3.client("securityhub").get_findings()["Findings"]

    def slack_alerts(self) -> list[str]:
        """The text of every Slack post (all requests, in order)."""
        return [json.dumps(r.json) for r in self.slack.requests]


@pytest.fixture
def deployment(
    aws: str, slack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    kms = boto3.client("kms")
    key_arn = kms.create_key(Description="das")["KeyMetadata"]["Arn"]
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="dasalert")["TopicArn"]
    sub_url = sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
    sub_arn = sqs.get_queue_attributes(QueueUrl=sub_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sub_arn)
    dlq_url = sqs.create_queue(QueueName="dasalert-dlq")["QueueUrl"]
    create_table(boto3.client("dynamodb"), TABLE)
    boto3.client("securityhub").enable_security_hub()
    secret = boto3.client("secretsmanager").create_secret(
        Name="dasalert/slack", SecretString=slack.webhook_url
    )["ARN"]
    env = {
        "DASALERT_RULES": str(write_rules(tmp_path / "rules")),
        "DASALERT_STATE_TABLE": TABLE,
        "DASALERT_DLQ_URL": dlq_url,
        "SNS_TOPIC_ARN": topic,
        "SLACK_WEBHOOK_SECRET_ARN": secret,
        "SECURITYHUB_ENABLED": "true",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "dasalert",
        "POWERTOOLS_METRICS_NAMESPACE": "dasalert",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("DASALERT_RESOURCE_ID", "DASALERT_OUTPUTS", "DASALERT_FIREHOSE_ALERTS"):
        monkeypatch.delenv(k, raising=False)
    _runtime.reset()
    encoder = Encoder(KmsKeyProvider(kms, key_id=key_arn), CLUSTER)
    try:
        yield Deployment(kms, key_arn, topic, sub_url, dlq_url, slack, encoder, monkeypatch)
    finally:
        _runtime.reset()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


__all__ = ["Deployment", "kinesis_event"]
