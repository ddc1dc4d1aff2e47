"""An alert that could not be delivered comes back when Kinesis redelivers its records, even though
the redelivered batch is not the batch that failed: Lambda refills it with newer records.

- A first-seen alert: the newer record may carry an event for the same value with an *earlier*
  time (another instance of the cluster, a skewed clock), which becomes the value's earliest
  event of the call; the event that alerted must still re-send its alert (same id).
- An escalation of a dedup window: the redelivered hits (duplicates) arrive mixed with the newer
  records' hits, so the window's firing is an update, not a pure replay; the stored escalation
  must still be sent, and once sent, not again.

Both with one engine call per record and with the whole batch in one call, on the in-memory
store and on DynamoDB (the moto server). Records are real-format (our encoder) under a local
key; the destination is a scripted implementation of our own Output interface.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.outputs.routing import Router
from engine.pipeline.batch import OK, TRANSIENT, Pipeline
from engine.pipeline.state import MemoryStateStore, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules import build_engine
from engine.rules.runtime.engine import Engine
from tests.pipeline.support import (
    ARN,
    CLUSTER,
    FIRST_SEEN_RULE,
    FOLD_RULE,
    ListDeadLetters,
    ScriptedOutput,
    ddl,
    encode,
    select,
    write_rules,
)

KEY = bytes(range(32))
NOW = 1_800_000_000.0
TABLE = "redelivery-state"


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    request.getfixturevalue("aws")
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    return DynamoDBStateStore(TABLE, client)


class World:
    def __init__(self, directory: Path, rule: str, state: StateStore, per_call: int) -> None:
        rules = write_rules(directory / "rules")
        (rules / "test-rule.yaml").write_text(rule)
        wired = build_engine(rules)
        assert wired.loaded.ok, wired.loaded
        keys = LocalKeyProvider(KEY)
        self.encoder = Encoder(keys, CLUSTER)
        self.out = ScriptedOutput()
        router = Router({"fake": self.out}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
        self.pipeline = Pipeline(
            Decoder(keys),
            state=state,
            engine=Engine(wired.ruleset, state),
            router=router,
            dead_letters=ListDeadLetters(),
            clock=lambda: NOW,
            events_per_call=per_call,
        )

    def record(self, record_id: int, events: list[dict]) -> RawRecord:
        return RawRecord(
            record_id=str(record_id), data=encode(self.encoder, events), stream_arn=ARN
        )


@pytest.mark.parametrize("per_call", [1, 5000])
def test_first_seen_alert_resent_when_the_redelivery_holds_an_earlier_event_of_the_value(
    tmp_path: Path, state: StateStore, per_call: int
) -> None:
    w = World(tmp_path, FIRST_SEEN_RULE, state, per_call)
    w.pipeline.run([w.record(9, [select("z", 0, n=99)])])  # the scope starts learning at t=0
    w.out.fail_retryable = {"New user e"}
    firing = w.record(0, [select("e", 100, n=1)])
    first = w.pipeline.run([firing])
    assert first.transient_ids == ["0"]
    (lost,) = [a for a in first.alerts if a.title == "New user e"]
    assert w.out.sent == []

    w.out.fail_retryable = set()
    # redelivered from record 0, the batch refilled with a newer record whose event for the same
    # user carries an earlier time: it is the value's earliest event of the call now
    again = w.pipeline.run([firing, w.record(1, [select("e", 50, n=2)])])
    assert [o.status for o in again.outcomes] == [OK, OK]
    assert [(a.id, a.title) for a in w.out.sent] == [(lost.id, "New user e")]

    # delivered now: a further redelivery sends nothing again
    w.pipeline.run([firing, w.record(1, [select("e", 50, n=2)])])
    assert len(w.out.sent) == 1


@pytest.mark.parametrize("per_call", [1, 5000])
def test_escalation_resent_when_the_redelivery_mixes_in_new_records(
    tmp_path: Path, state: StateStore, per_call: int
) -> None:
    w = World(tmp_path, FOLD_RULE, state, per_call)
    w.pipeline.run([w.record(0, [select("mallory", 1, n=1)])])  # the window opens, is sent
    (opened,) = w.out.sent
    assert "escalation" not in opened.context

    w.out.fail_retryable = {"DROP"}  # the escalation cannot be delivered this time
    dropped = w.record(1, [ddl("mallory", 10, n=2, sql="DROP TABLE audit_log")])
    failed = w.pipeline.run([dropped])
    assert [o.status for o in failed.outcomes] == [TRANSIENT]
    (lost,) = [a for a in failed.alerts if "escalation" in a.context]
    assert lost.id == opened.id and lost.context["escalation"]["step"] == 1

    w.out.fail_retryable = set()
    # redelivered from record 1, the batch refilled with a newer record of the same window
    batch = [dropped, w.record(2, [select("mallory", 20, n=3)])]
    again = w.pipeline.run(batch)
    assert [o.status for o in again.outcomes] == [OK, OK]
    escalations = [a for a in w.out.sent if "escalation" in a.context]
    assert [(a.id, a.context["escalation"]) for a in escalations] == [
        (opened.id, lost.context["escalation"])
    ]
    assert "new verb: DROP TABLE" in escalations[0].context["escalation"]["reasons"]
    assert escalations[0].count == 3
    # it shows the statement that made it, not the newer harmless one
    assert escalations[0].title == "Statement by mallory: DROP TABLE"

    # the step was delivered: redelivering the same batch again sends nothing
    sent = len(w.out.sent)
    w.pipeline.run(batch)
    assert len(w.out.sent) == sent
