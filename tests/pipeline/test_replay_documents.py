"""What ``dasalert replay`` accepts as a source document, and how it refuses the rest.

The end-to-end replays (moto, Slack server) are in tests/cli/test_replay.py; here the readers of
Lambda's on-failure record and of our dead letters, offline, including a fuzz: whatever JSON
arrives, the answer is items or a ``ReplayError``, never another exception.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.alerts import Alert
from engine.das.encoder import kinesis_event
from engine.das.records import RawRecord
from engine.pipeline.dlq import alert_from_dict, alert_message, record_message
from engine.pipeline.replay import (
    ALERT,
    BATCH,
    RANGE,
    RECORD,
    ReplayError,
    items_from_document,
    units_from_text,
)
from tests.pipeline.support import ARN, CLUSTER

INFO = {
    "shardId": "shardId-000000000000",
    "startSequenceNumber": "100",
    "endSequenceNumber": "101",
    "batchSize": 2,
    "streamArn": ARN,
}


def _on_failure(payload: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-27T12:00:00.000Z",
        "KinesisBatchInfo": INFO,
    }
    if payload is not None:
        doc["payload"] = payload
    return doc


@pytest.mark.parametrize("as_text", [True, False])
def test_the_s3_form_carries_the_whole_batch(as_text: bool) -> None:
    event = kinesis_event([b"one", b"two"], ARN, first_sequence=100)
    doc = _on_failure(json.dumps(event) if as_text else event)
    (item,) = items_from_document(doc, "obj")
    assert item.kind == BATCH
    assert [(r.record_id, r.data, r.stream_arn) for r in item.records] == [
        ("100", b"one", ARN),
        ("101", b"two", ARN),
    ]


def test_the_queue_form_is_a_range_to_read_from_the_stream() -> None:
    (item,) = items_from_document(_on_failure(), "msg")
    assert item.kind == RANGE and item.batch_info == INFO and item.records == []


def test_dead_letters_of_records_and_alerts() -> None:
    rec = RawRecord(record_id="7", data=b"\x00raw", stream_arn=ARN, position="Records[0]")
    (item,) = items_from_document(record_message(rec, "bad_envelope", "x", CLUSTER), "dlq")
    assert item.kind == RECORD
    (back,) = item.records
    assert (back.record_id, back.data, back.stream_arn, back.resource_id) == (
        "7",
        b"\x00raw",
        ARN,
        CLUSTER,
    )
    alert = Alert(
        id="a" * 32,
        rule_id="r",
        title="DDL by eve",
        severity="high",
        event={"das": {"user": "eve"}},
        tags=("t",),
        outputs=("slack",),
        context={"resource": {"id": CLUSTER}},
    )
    (item,) = items_from_document(alert_message(alert, "slack", "HTTP 404"), "dlq")
    assert (item.kind, item.output, item.alert) == (ALERT, "slack", alert)


def test_an_alert_round_trips_through_its_dead_letter() -> None:
    alert = Alert(id="b" * 32, rule_id="r", title="t", severity="low", event={})
    doc = json.loads(json.dumps(alert_message(alert, "sns", "x")))
    assert alert_from_dict(doc["alert"]) == alert
    with pytest.raises(ValueError, match="no id"):
        alert_from_dict({"rule_id": "r", "title": "t", "severity": "low"})
    # a field from a newer version is ignored, not fatal
    assert alert_from_dict({**doc["alert"], "brand_new": 1}) == alert


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"Records": []}, "not a Kinesis on-failure record"),
        ([1, 2], "not an object"),
        ({"DDBStreamBatchInfo": {}}, "another event source"),
        (_on_failure("{not json"), "payload is not JSON"),
        (_on_failure({"records": []}), "holds no Kinesis Records"),
        ({**_on_failure(), "KinesisBatchInfo": {"shardId": "s"}}, "no startSequenceNumber"),
        ({"dasalert": 1, "kind": "undecodable_record", "data": None}, "too large"),
        ({"dasalert": 1, "kind": "undecodable_record", "data": "%%"}, "not base64"),
        ({"dasalert": 1, "kind": "undeliverable_alert", "alert": {}}, "cannot be read"),
        ({"dasalert": 1, "kind": "something_else"}, "dead letter"),
    ],
)
def test_what_is_not_replayable_is_said(doc: Any, says: str) -> None:
    with pytest.raises(ReplayError, match=says):
        items_from_document(doc, "x")


def test_files_hold_one_document_json_lines_or_a_receive_message_answer() -> None:
    rec = RawRecord(record_id="7", data=b"raw", stream_arn=ARN)
    letter = record_message(rec, "bad_envelope", "x", CLUSTER)
    assert len(units_from_text(json.dumps(letter), "f")) == 1
    lines = "\n".join([json.dumps(letter)] * 3) + "\n\n"
    units = units_from_text(lines, "f")
    assert [u.where for u in units] == ["f:1", "f:2", "f:3"]
    assert all(u.from_dead_letters for u in units)
    received = {"Messages": [{"MessageId": "m", "Body": json.dumps(letter)}] * 2}
    assert len(units_from_text(json.dumps(received), "f")) == 2
    with pytest.raises(ReplayError, match="f:2: not JSON"):
        units_from_text(json.dumps(letter) + "\n{", "f")
    with pytest.raises(ReplayError, match="empty"):
        units_from_text("  \n", "f")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["KinesisBatchInfo", "payload", "requestContext", "dasalert", "kind", "data", "alert"]
)


@settings(max_examples=300, deadline=None)
@example(base={"alert": [1]}, kind="undeliverable_alert", data=b"")
@example(
    base={"alert": {"id": "x", "rule_id": "r", "title": "t", "severity": "low", "tags": 5}},
    kind="undeliverable_alert",
    data=b"",
)
@example(base={"payload": {"Records": [1, {"kinesis": 2}]}}, kind=1, data=b"")
@example(base={"KinesisBatchInfo": [], "payload": "[]"}, kind=1, data=b"")
@given(
    base=st.dictionaries(KEYS, JSON, max_size=5),
    kind=st.sampled_from(["undecodable_record", "unevaluated_record", "undeliverable_alert", 1]),
    data=st.binary(max_size=8),
)
def test_any_document_gives_items_or_a_replay_error(
    base: dict[str, Any], kind: Any, data: bytes
) -> None:
    for doc in (
        base,
        {**base, "dasalert": 1, "kind": kind},
        {**base, "dasalert": 1, "kind": kind, "data": base64.b64encode(data).decode()},
        {**_on_failure(), **base},
    ):
        try:
            items = items_from_document(doc, "fuzz")
        except ReplayError:
            continue
        for item in items:
            assert item.kind in (BATCH, RANGE, RECORD, ALERT)
