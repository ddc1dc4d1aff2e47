"""The Kinesis handler with a state table that refuses for good: the records are dead-lettered
and alerted, never returned in ``batchItemFailures`` (moto: the table simply does not exist)."""

from __future__ import annotations

import base64

from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import CLUSTER, FakeContext, failed_login


def test_a_missing_state_table_dead_letters_and_alerts_instead_of_retrying(
    deployment: Deployment,
) -> None:
    d = deployment
    d.monkeypatch.setenv("DASALERT_STATE_TABLE", "no-such-table")
    event = d.event([failed_login("eve", 1)], [failed_login("eve", 2, n=2)])
    assert handler(event, FakeContext()) == {"batchItemFailures": []}

    letters = sorted(d.dead_letters(), key=lambda m: m["record_id"])
    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert [(m["kind"], m["reason"], m["record_id"]) for m in letters] == [
        ("unevaluated_record", "state_error", seqs[0]),
        ("unevaluated_record", "state_error", seqs[1]),
    ]
    sent = base64.b64decode(letters[0]["data"])
    assert sent == base64.b64decode(event["Records"][0]["kinesis"]["data"])  # replayable as is
    (alert,) = d.sns_messages()  # one alert for the resource and the cause
    assert alert["rule_id"] == "dasalert-state-error" and alert["kind"] == "pipeline"
    assert alert["title"] == (
        f"The state table refuses requests: records from {CLUSTER} not evaluated"
    )
    assert "ResourceNotFoundException" in alert["event"]["error"]
    assert alert["event"]["records"] == seqs
