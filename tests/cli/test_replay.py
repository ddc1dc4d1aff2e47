"""``dasalert replay`` end to end, on the moto server and the local Slack server.

A batch fails in the stream function (an output or KMS down), the on-failure object is built
exactly as Lambda writes it to the S3 destination (the invocation record with the batch in
``payload``), and replay delivers what the function could not — once: a second replay sends
nothing, a batch whose alerts reached some outputs is sent only to the others. Dead letters
(from the queue or a file) replay the same way; a dry run sends nothing and changes no state.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from engine.cli import main
from engine.cli import replay as replay_cli
from engine.das.encoder import Encoder, kinesis_event
from engine.das.keys import KmsKeyProvider
from engine.das.records import RawRecord
from engine.outputs.base import Deadline
from engine.pipeline.batch import HEARTBEAT_NS
from engine.pipeline.dlq import record_message
from engine.pipeline.replay import Replayer, units_from_text
from engine.pipeline.state_dynamodb import DynamoDBStateStore
from handlers import _runtime
from handlers.kinesis import handler
from tests.handlers import conftest as handler_fixtures
from tests.handlers.conftest import TABLE, Deployment
from tests.pipeline.support import ARN, CLUSTER, FakeContext, ddl, encode, select
from tests.support.slack_server import SlackResponse

# the handler tests' deployed stack (moto + the Slack server), shared here
deployment = handler_fixtures.deployment
closed_port = handler_fixtures.closed_port

BUCKET = "dasalert-failed-batches"
MAPPING = "a1b2c3d4-5678-90ab-cdef-111111111111"


def on_failure_object(
    event: dict[str, Any], *, payload_as_text: bool = True, failed_at: dt.datetime | None = None
) -> dict[str, Any]:
    """What Lambda writes to an S3 on-failure destination for a Kinesis batch: the invocation
    record (request and response context, KinesisBatchInfo) plus the whole event in ``payload``
    (AWS writes it as JSON text; an object is accepted too)."""
    records = event["Records"]
    seqs = [r["kinesis"]["sequenceNumber"] for r in records]
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:dasalert-stream",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 11,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": (failed_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": seqs[0],
            "endSequenceNumber": seqs[-1],
            "approximateArrivalOfFirstRecord": "2026-11-27T12:00:00.000Z",
            "approximateArrivalOfLastRecord": "2026-11-27T12:00:01.000Z",
            "batchSize": len(records),
            "streamArn": records[0]["eventSourceARN"],
        },
        "payload": json.dumps(event) if payload_as_text else event,
    }


def put_on_failure_object(doc: dict[str, Any]) -> str:
    """Stores it as Lambda does (aws/lambda/<mapping>/<shard>/YYYY/MM/DD/…); returns the URL."""
    s3 = boto3.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET)
    key = f"aws/lambda/{MAPPING}/shardId-000000000000/2026/11/27/2026-11-27T12.05.00-{uuid.uuid4()}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(doc).encode())
    return f"s3://{BUCKET}/{key}"


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", *args])
    got = capsys.readouterr()
    return code, got.out, got.err


def _failures(response: dict) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_a_batch_whose_alerts_were_partly_sent_is_sent_only_to_the_rest_and_only_once(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = deployment
    event = d.event([ddl("alice", 1)], [select("bob", 2)], [ddl("carol", 3, n=2)])
    # Slack answers 500 to the post that carries both DDL alerts, for every attempt Lambda makes
    d.slack.script(SlackResponse(500, "internal_error"))
    response = handler(event, FakeContext(remaining_ms=15_100))
    assert len(_failures(response)) == 2  # Lambda retries, then gives up on the batch
    assert len(d.sns_messages()) == 2 and len(d.findings()) == 2  # these outputs got theirs
    assert len(d.slack.requests) == 1

    url = put_on_failure_object(on_failure_object(event))
    code, out, _ = replay(capsys, url)
    assert code == 0, out
    posts = d.slack_alerts()
    assert len(posts) == 2 and "alice" in posts[1] and "carol" in posts[1]
    assert d.sns_messages() == [] and len(d.findings()) == 2  # not sent again
    assert d.dead_letters() == []
    assert f"{url}: 3 records" in out
    assert "2 alerts: 2 sent, 4 already sent, 0 failed" in out  # Slack × 2; SNS + Hub × 2 skipped

    # the same object again: nothing is sent anywhere
    code, out, _ = replay(capsys, url)
    assert code == 0
    assert len(d.slack.requests) == 2 and d.sns_messages() == []
    assert "0 sent, 6 already sent, 0 failed" in out
    assert "note:" not in out

    # a batch that failed longer ago than the sent markers live: replayed, with a warning
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    code, out, _ = replay(capsys, put_on_failure_object(on_failure_object(event, failed_at=old)))
    assert code == 0
    assert "failed 40.0 days ago, longer than the sent markers live (32 days)" in out


def test_a_batch_that_reached_no_output_is_delivered_whole_and_a_dry_run_sends_nothing(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
    closed_port: int,
) -> None:
    d = deployment
    event = d.event([ddl("mallory", 1)], [ddl("eve", 2, n=2)], heartbeats=1)
    d.monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{closed_port}")
    _runtime.reset()
    assert len(_failures(handler(event, FakeContext()))) == 2  # KMS down: nothing decoded
    d.monkeypatch.delenv("AWS_ENDPOINT_URL_KMS")
    assert d.sns_messages() == [] and d.slack.requests == []

    # the object form of the payload, as some emulators write it
    url = put_on_failure_object(on_failure_object(event, payload_as_text=False))
    code, out, _ = replay(capsys, url, "--dry-run")
    assert code == 0, out
    assert "would alert: [high] DDL by mallory: CREATE TABLE" in out
    assert "would alert: [high] DDL by eve: CREATE TABLE" in out
    assert "evaluated (dry run, nothing sent)" in out
    assert d.sns_messages() == [] and d.slack.requests == [] and d.findings() == []

    code, out, _ = replay(capsys, url)  # the dry run marked nothing as sent
    assert code == 0, out
    titles = sorted(m["title"] for m in d.sns_messages())
    assert titles == ["DDL by eve: CREATE TABLE", "DDL by mallory: CREATE TABLE"]
    assert len(d.findings()) == 2 and len(d.slack.requests) == 1
    code, out, _ = replay(capsys, url)
    assert code == 0 and d.sns_messages() == [] and len(d.slack.requests) == 1
    # old heartbeats say nothing about the database now: the watchdog's record is untouched
    state = DynamoDBStateStore(TABLE, boto3.client("dynamodb"))
    assert state.read_namespace(HEARTBEAT_NS) == {}


def test_an_output_still_down_keeps_the_batch_for_a_later_replay(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Replayer with a fixed time budget (15.1 s, as a Lambda near its end would have): one
    Slack attempt, no wait for a second. Nothing is dead-lettered; the source is kept."""
    d = deployment
    event = d.event([ddl("alice", 1)])
    put_on_failure_object(on_failure_object(event))
    lines: list[str] = []
    pipeline = replay_cli._pipeline(replay_cli._environment(_args()), dry_run=False)
    replayer = Replayer(pipeline, say=lines.append, deadline=lambda: Deadline(lambda: 15_100))
    d.slack.script(SlackResponse(500, "internal_error"))
    acks: list[str] = []
    unit = units_from_text(json.dumps(on_failure_object(event)), "object")[0]
    unit.ack = lambda: acks.append("deleted")
    s = replayer.replay(unit)
    assert (s.units_failed, s.failed, acks) == (1, 1, [])
    assert any("kept: not everything was replayed" in line for line in lines)
    assert d.dead_letters() == []  # a retryable failure is not dead-lettered by a replay
    assert len(d.sns_messages()) == 1  # the outputs that work got it
    s = replayer.replay(unit)  # Slack is back
    assert (s.units_failed, s.sent, s.already_sent, acks) == (0, 1, 2, ["deleted"])
    assert len(d.slack.requests) == 2 and d.sns_messages() == []


def _args(**kw: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"state_table": None, "rules": None, "dry_run": False, **kw})


def test_dead_letters_replay_from_the_queue_and_leave_it_only_when_done(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = deployment
    # an alert Slack refused for good: dead-lettered (and marked, so Lambda never retries it)
    d.slack.script(SlackResponse(404, "no_service"))
    assert handler(d.event([ddl("mallory", 1)]), FakeContext()) == {"batchItemFailures": []}
    assert len(d.sns_messages()) == 1
    # a record the state table refused (written as the pipeline writes it)
    payload = encode(d.encoder, [ddl("eve", 5)])
    rec = RawRecord(record_id="4242", data=payload, stream_arn=ARN, position="Records[0]")
    doc = record_message(rec, "state_error", "table gone", CLUSTER, kind="unevaluated_record")
    boto3.client("sqs").send_message(QueueUrl=d.dlq_url, MessageBody=json.dumps(doc))

    code, out, _ = replay(capsys, d.dlq_url)
    assert code == 0, out
    posts = d.slack_alerts()  # the 404, then mallory's alert and eve's
    assert len(posts) == 3 and "mallory" in posts[1] and "eve" in posts[2]
    assert [m["title"] for m in d.sns_messages()] == ["DDL by eve: CREATE TABLE"]
    assert d.dead_letters() == []  # both messages deleted, no new one
    assert "2 sources" in out

    code, out, _ = replay(capsys, d.dlq_url)  # an empty queue: nothing to do
    assert code == 0 and len(d.slack.requests) == 3


def test_a_dead_letter_replayed_twice_from_a_file_is_sent_once(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    d = deployment
    d.slack.script(SlackResponse(404, "no_service"))
    handler(d.event([ddl("mallory", 1)]), FakeContext())
    (letter,) = d.dead_letters()
    assert letter["kind"] == "undeliverable_alert" and letter["output"] == "slack"
    path = tmp_path / "letters.jsonl"
    path.write_text(json.dumps(letter) + "\n")
    assert replay(capsys, str(path))[0] == 0
    assert replay(capsys, str(path))[0] == 0
    assert len(d.slack.requests) == 2  # the refused post, then one replay


def test_a_record_that_still_cannot_decode_stays_in_the_queue_without_a_second_copy(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = deployment
    other = Encoder(KmsKeyProvider(d.kms, key_id=d.key_arn), "cluster-SOMEOTHERDATABASEAAAAAAAAAA")
    foreign = kinesis_event([encode(other, [ddl("x", 1)])], ARN, first_sequence=500)
    handler(foreign, FakeContext())
    (letter,) = d.dead_letters()
    boto3.client("sqs").send_message(QueueUrl=d.dlq_url, MessageBody=json.dumps(letter))
    d.sns_messages()

    code, out, _ = replay(capsys, d.dlq_url)
    assert code == 1
    assert "wrong_encryption_context (dead-lettered)" in out
    assert "kept" in out
    # the original is back on the queue after its visibility timeout; no second message
    sqs = boto3.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=d.dlq_url, AttributeNames=["All"])["Attributes"]
    assert (
        int(attrs["ApproximateNumberOfMessages"])
        + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        == 1
    )


def test_a_range_only_record_is_read_back_from_the_stream(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The SQS destination's form: only the shard and sequence range; the records come from
    the stream (AT_SEQUENCE_NUMBER) while it holds them."""
    d = deployment
    kinesis = boto3.client("kinesis")
    name = ARN.rsplit("/", 1)[-1]
    kinesis.create_stream(StreamName=name, ShardCount=1)
    seqs = []
    for events in ([ddl("alice", 1)], [select("bob", 2)], [ddl("carol", 3, n=2)]):
        put = kinesis.put_record(StreamName=name, Data=encode(d.encoder, events), PartitionKey="k")
        seqs.append(put["SequenceNumber"])
    kinesis.put_record(StreamName=name, Data=encode(d.encoder, [ddl("later", 9)]), PartitionKey="k")
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    doc = on_failure_object(d.event([ddl("x", 0)]))
    doc.pop("payload")  # the SQS destination's record: metadata only
    doc["KinesisBatchInfo"]["streamArn"] = arn
    doc["KinesisBatchInfo"].update(
        startSequenceNumber=seqs[0], endSequenceNumber=seqs[-1], batchSize=3, shardId=put["ShardId"]
    )
    path = tmp_path / "range.json"
    path.write_text(json.dumps(doc))
    code, out, _ = replay(capsys, str(path))
    assert code == 0, out
    titles = sorted(m["title"] for m in d.sns_messages())
    assert titles == ["DDL by alice: CREATE TABLE", "DDL by carol: CREATE TABLE"]  # not later's
    assert "3 records" in out

    doc["KinesisBatchInfo"]["streamArn"] = arn.replace(name, "aws-rds-das-cluster-GONE")
    path.write_text(json.dumps(doc))
    code, out, _ = replay(capsys, str(path))
    assert (code == 1 and "ResourceNotFound" in out) or "no such" in out


def test_clear_errors(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    d = deployment
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    code, _, err = replay(capsys, f"s3://{BUCKET}/aws/lambda/nothing-here")
    assert code == 1 and "no such object" in err
    code, _, err = replay(capsys, "s3://no-such-bucket-here/x")
    assert code == 1 and "no such bucket" in err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"Records": []}))
    code, _, err = replay(capsys, str(other))
    assert code == 1 and "not a Kinesis on-failure record" in err
    code, _, err = replay(capsys, str(tmp_path / "missing.json"))
    assert code == 1 and "no such file" in err
    d.monkeypatch.delenv("DASALERT_STATE_TABLE")
    code, _, err = replay(capsys, str(other))
    assert code == 2 and "no state table" in err


def test_no_credentials_is_said_plainly(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    d = deployment
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        d.monkeypatch.delenv(name, raising=False)
    d.monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    d.monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    d.monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    d.monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # drop the credentials it cached
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        d.monkeypatch.delenv(name, raising=False)
    code, out, err = replay(capsys, f"s3://{BUCKET}/x")
    assert code in (1, 2)
    assert "no AWS credentials" in out + err
