"""handlers.kinesis end to end: real-format records (our encoder, KMS on moto with the encryption
context enforced) → the handler → SNS (read back through an SQS subscription), Security Hub
findings, posts on the local Slack server, the DLQ, and DynamoDB state between invocations."""

from __future__ import annotations

import base64
import io
import json
import logging

import boto3

from engine.das.encoder import Encoder, kinesis_event
from engine.das.keys import KmsKeyProvider
from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import ARN, CLUSTER, FakeContext, ddl, encode, failed_login, select
from tests.support.slack_server import SlackResponse


def _seqs(event: dict) -> list[str]:
    return [r["kinesis"]["sequenceNumber"] for r in event["Records"]]


def _failures(response: dict) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_alerts_reach_sns_security_hub_and_slack_once(deployment: Deployment) -> None:
    d = deployment
    event = d.event([select("app", 0), ddl("mallory", 1)], [ddl("eve", 2, n=2)], heartbeats=1)
    assert handler(event, FakeContext()) == {"batchItemFailures": []}

    messages = d.sns_messages()
    assert sorted(m["title"] for m in messages) == [
        "DDL by eve: CREATE TABLE",
        "DDL by mallory: CREATE TABLE",
    ]
    assert all(m["event"]["das"]["clusterId"] == CLUSTER for m in messages)
    findings = d.findings()
    assert sorted(f["Id"] for f in findings) == sorted(m["id"] for m in messages)
    posts = d.slack_alerts()  # Slack groups the alerts of one rule in one message
    assert len(posts) == 1 and "mallory" in posts[0] and "eve" in posts[0]
    assert d.dead_letters() == []

    # Lambda redelivers the same batch (e.g. a later record failed): nothing is sent twice.
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert d.sns_messages() == []
    assert len(d.findings()) == 2
    assert len(d.slack.requests) == 1


def test_undecodable_records_go_to_the_dlq_with_a_pipeline_alert(deployment: Deployment) -> None:
    d = deployment
    event = d.event([ddl("mallory", 1)], [select("app", 2)])
    seqs = _seqs(event)
    event["Records"][1]["kinesis"]["data"] = base64.b64encode(b'{"not": "das"}').decode()
    event["Records"].append(dict(event["Records"][0]))
    event["Records"][2] = {
        **event["Records"][0],
        "kinesis": {**event["Records"][0]["kinesis"], "sequenceNumber": "1002", "data": "%%%"},
    }
    response = handler(event, FakeContext())
    assert response == {"batchItemFailures": []}  # permanent: not retried

    letters = sorted(d.dead_letters(), key=lambda m: m["record_id"])
    assert [(m["record_id"], m["reason"]) for m in letters] == [
        (seqs[1], "bad_envelope"),
        ("1002", "bad_base64"),
    ]
    assert base64.b64decode(letters[0]["data"]) == b'{"not": "das"}'
    titles = sorted(m["title"] for m in d.sns_messages())
    assert (
        titles[0] == "Activity stream records that cannot be decoded (bad_base64) from " + CLUSTER
    )
    assert (
        titles[1] == "Activity stream records that cannot be decoded (bad_envelope) from " + CLUSTER
    )
    assert titles[2] == "DDL by mallory: CREATE TABLE"
    # pipeline alerts go to the ops route (Slack, SNS), not to Security Hub
    assert len(d.findings()) == 1
    # the same batch redelivered in the same hour: neither dead-lettered nor alerted again
    handler(event, FakeContext())
    assert d.sns_messages() == []
    assert d.dead_letters() == []


def test_a_refused_data_key_is_permanent_an_unreachable_kms_is_transient(
    deployment: Deployment, closed_port: int
) -> None:
    """KMS refusing a data key (here: encrypted under another database's encryption context,
    which KMS on moto enforces) can never succeed on retry: dead letter + pipeline alert. KMS
    not answering at all is transient: the records come back in ``batchItemFailures``."""
    d = deployment
    other = Encoder(KmsKeyProvider(d.kms, key_id=d.key_arn), "cluster-SOMEOTHERDATABASEAAAAAAAAAA")
    foreign = kinesis_event([encode(other, [ddl("x", 1)])], ARN, first_sequence=500)
    assert handler(foreign, FakeContext()) == {"batchItemFailures": []}
    assert [m["reason"] for m in d.dead_letters()] == ["wrong_encryption_context"]
    (alert,) = d.sns_messages()
    assert alert["kind"] == "pipeline" and "wrong_encryption_context" in alert["title"]

    event = d.event([ddl("mallory", 1)], [ddl("eve", 2, n=2)])
    d.monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{closed_port}")
    from handlers import _runtime

    _runtime.reset()  # a new container: its KMS client reads the endpoint
    response = handler(event, FakeContext())
    assert _failures(response) == _seqs(event)
    assert d.dead_letters() == [] and d.sns_messages() == []

    d.monkeypatch.delenv("AWS_ENDPOINT_URL_KMS")
    _runtime.reset()
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert len(d.sns_messages()) == 2


def test_an_output_still_failing_retries_exactly_the_records_of_its_alerts(
    deployment: Deployment,
) -> None:
    d = deployment
    event = d.event([ddl("alice", 1)], [select("bob", 2)], [ddl("carol", 3, n=2)])
    seqs = _seqs(event)
    # Slack answers 500 to the one post that carries both DDL alerts (alice's and carol's)
    d.slack.script(SlackResponse(500, "internal_error"))
    # 15.1 s left: time for one request (10 s) past the 5 s margin, none for a wait and another
    response = handler(event, FakeContext(remaining_ms=15_100))
    assert _failures(response) == [seqs[0], seqs[2]]  # not bob's record: it alerted nothing
    assert len(d.sns_messages()) == 2
    assert len(d.findings()) == 2

    # Lambda retries from the lowest failed sequence number: the whole batch here.
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert d.sns_messages() == [] and len(d.findings()) == 2  # not sent twice
    posts = d.slack_alerts()
    assert len(posts) == 2 and "alice" in posts[1] and "carol" in posts[1]


def test_thresholds_add_up_across_invocations_through_dynamodb(deployment: Deployment) -> None:
    d = deployment
    first = d.event([failed_login("bob", 0), failed_login("bob", 10, 2)], first=2000)
    assert handler(first, FakeContext()) == {"batchItemFailures": []}
    assert d.sns_messages() == []
    from handlers import _runtime

    _runtime.reset()  # another container (or shard): only DynamoDB connects the two
    second = d.event([failed_login("bob", 20, 3)], first=3000)
    assert handler(second, FakeContext()) == {"batchItemFailures": []}
    (alert,) = d.sns_messages()
    assert alert["rule_id"] == "test-failed-logins" and alert["count"] == 3
    items = boto3.client("dynamodb").scan(TableName="dasalert-state")["Items"]
    assert any(i["pk"]["S"] == "m#heartbeat" and i["sk"]["S"] == CLUSTER for i in items)
    assert all("expires_at" in i for i in items)


def test_logs_carry_reasons_and_ids_never_secrets_or_sql(deployment: Deployment) -> None:
    """Everything the ``dasalert`` logger (powertools, JSON) writes during a batch with a
    password in its SQL, an undecodable record and a failing Slack webhook."""
    from handlers._runtime import observability

    logger, _ = observability()
    buffer = io.StringIO()
    capture = logging.StreamHandler(buffer)
    capture.setFormatter(logger.registered_formatter)
    logging.getLogger("dasalert").addHandler(capture)
    try:
        d = deployment
        sql = "ALTER ROLE app WITH PASSWORD 'hunter2-secret'"
        event = d.event([ddl("mallory", 1, sql=sql)], [select("app", 2)])
        event["Records"][1]["kinesis"]["data"] = base64.b64encode(b"garbage").decode()
        d.slack.script(SlackResponse(500, "internal_error"))
        handler(event, FakeContext(remaining_ms=15_100))
    finally:
        logging.getLogger("dasalert").removeHandler(capture)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    (done,) = [x for x in lines if x["message"] == "batch done"]
    assert done["summary"]["failed_by_reason"] == {"bad_envelope": 1, "output_slack": 1}
    assert done["function_request_id"] == FakeContext.aws_request_id
    text = buffer.getvalue()
    for secret in ("hunter2-secret", "ALTER ROLE", d.slack.webhook_url, d.slack.webhook_path):
        assert secret not in text


def test_resource_id_setting_overrides_the_id_in_the_stream_arn(deployment: Deployment) -> None:
    """DESIGN: ``DASALERT_RESOURCE_ID`` overrides the id derived from the stream ARN (e.g. a
    stream re-published under another name); without it, that ARN's id is the wrong context."""
    d = deployment
    payload = encode(d.encoder, [ddl("mallory", 1)])
    event = kinesis_event(
        [payload],
        "arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-cluster-OTHERAAAAAAAAAAAAAAAAAAAAA",
    )
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert [m["reason"] for m in d.dead_letters()] == ["wrong_encryption_context"]

    d.monkeypatch.setenv("DASALERT_RESOURCE_ID", CLUSTER)
    from handlers import _runtime

    _runtime.reset()
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert [m["title"] for m in d.sns_messages() if m["kind"] == "rule"] == [
        "DDL by mallory: CREATE TABLE"
    ]


def test_a_growing_incident_updates_its_finding_and_pages_once(deployment: Deployment) -> None:
    """One incident = one finding, updated as it repeats; Slack and SNS hear of it once."""
    import os
    from pathlib import Path

    d = deployment
    (Path(os.environ["DASALERT_RULES"]) / "ddl-dedup.yaml").write_text(
        "id: ddl-dedup\ntitle: DDL by {dbUserName}\nseverity: high\n"
        "when: das.action == 'DDL'\ndedup: {key: dbUserName, window: 1h}\n"
    )
    first = d.event([ddl("mallory", 1)], first=1000)
    assert handler(first, FakeContext()) == {"batchItemFailures": []}
    later = d.event([ddl("mallory", 30, n=2), ddl("mallory", 31, n=3)], first=2000)
    assert handler(later, FakeContext()) == {"batchItemFailures": []}
    assert handler(later, FakeContext()) == {"batchItemFailures": []}  # redelivered

    findings = [f for f in d.findings() if f["GeneratorId"] == "ddl-dedup"]
    assert len(findings) == 1
    assert findings[0]["ProductFields"]["dasalert/Count"] == "3"
    assert [m["count"] for m in d.sns_messages() if m["rule_id"] == "ddl-dedup"] == [1]


def test_a_rule_that_does_not_load_raises_a_pipeline_alert_once_an_hour(
    deployment: Deployment,
) -> None:
    """A broken rule detects nothing: that must reach a responder, not only a log line."""
    import os
    from pathlib import Path

    d = deployment
    (Path(os.environ["DASALERT_RULES"]) / "broken.yaml").write_text(
        "id: broken-rule\ntitle: t\nseverity: hihg\nwhen: das.action == 'DDL'\n"
    )
    assert handler(d.event([select("app", 1)]), FakeContext()) == {"batchItemFailures": []}
    [alert] = [m for m in d.sns_messages() if m["kind"] == "pipeline"]
    assert alert["rule_id"] == "dasalert-rule-load-error" and alert["severity"] == "high"
    assert "broken-rule" in alert["title"]
    assert any("broken.yaml:3" in p and "hihg" in p for p in alert["event"]["problems"])
    # the other rules still run, and the next batch in the hour does not repeat the alert
    assert handler(d.event([ddl("eve", 2)], first=2000), FakeContext()) == {"batchItemFailures": []}
    assert [m["kind"] for m in d.sns_messages()] == ["rule"]
