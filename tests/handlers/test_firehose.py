"""handlers.firehose on moto: every recordId answered, Ok data = redacted events as JSON lines."""

from __future__ import annotations

import base64
import json

from engine.das.encoder import firehose_event
from handlers.firehose import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import ARN, CLUSTER, FakeContext, ddl, encode, select


def _event(d: Deployment) -> dict:
    sql = "ALTER ROLE app WITH PASSWORD 'hunter2-secret'"
    payloads = [
        encode(d.encoder, [ddl("mallory", 1, sql=sql), select("app", 2)], heartbeats=1),
        encode(d.encoder, [], heartbeats=5),
        b"definitely not a record",
        encode(d.encoder, [select("bob", 3)]),
    ]
    event = firehose_event(payloads, ARN)
    event["records"][2]["data"] = "@@not base64@@"
    return event


def test_every_record_id_is_answered_with_redacted_json_lines(deployment: Deployment) -> None:
    d = deployment
    event = _event(d)
    response = handler(event, FakeContext())
    ids = [r["recordId"] for r in event["records"]]
    assert [r["recordId"] for r in response["records"]] == ids
    assert [r["result"] for r in response["records"]] == [
        "Ok",
        "Dropped",
        "ProcessingFailed",
        "Ok",
    ]
    text = base64.b64decode(response["records"][0]["data"]).decode()
    assert text.endswith("\n")
    events = [json.loads(line) for line in text.splitlines()]
    assert [e["dbUserName"] for e in events] == ["mallory", "app"]
    assert events[0]["das"]["clusterId"] == CLUSTER
    assert "hunter2-secret" not in text
    # decoding only (DASALERT_FIREHOSE_ALERTS unset): nothing sent anywhere
    assert d.sns_messages() == [] and d.slack.requests == []


def test_with_alerts_enabled_firehose_also_alerts_once(deployment: Deployment) -> None:
    d = deployment
    d.monkeypatch.setenv("DASALERT_FIREHOSE_ALERTS", "true")
    event = _event(d)
    handler(event, FakeContext())
    titles = sorted(m["title"] for m in d.sns_messages())
    assert titles[0].startswith("Activity stream records that cannot be decoded (bad_base64)")
    assert titles[1] == "DDL by mallory: ALTER ROLE"
    handler(event, FakeContext())  # Firehose retried the invocation
    assert d.sns_messages() == []


def test_with_the_archive_on_every_ok_record_carries_its_partition_keys(
    deployment: Deployment,
) -> None:
    d = deployment
    d.monkeypatch.setenv("DASALERT_FIREHOSE_PARTITION_KEYS", "true")
    response = handler(_event(d), FakeContext())
    ok = [r for r in response["records"] if r["result"] == "Ok"]
    assert len(ok) == 2
    first = ok[0]["metadata"]["partitionKeys"]
    assert first["resource"] == CLUSTER
    assert first["action"] == "DDL.READ"  # the record's DDL and SELECT, sorted
    assert len(first["dt"]) == 10 and len(first["hour"]) == 2
    assert ok[1]["metadata"]["partitionKeys"]["action"] == "READ"
    assert all("metadata" not in r for r in response["records"] if r["result"] != "Ok")


def test_without_the_archive_answers_carry_no_partition_keys(deployment: Deployment) -> None:
    response = handler(_event(deployment), FakeContext())
    assert all("metadata" not in r for r in response["records"])
