"""Pipeline bookkeeping: every record ends ok / dropped / transient / permanent, alerts map back
to the records that produced them, and a redelivered batch sends nothing twice.

Records are real-format (our encoder) under a local key; the state is the in-memory store; the
destination is a scripted implementation of our own Output interface. The same behaviours on
moto, DynamoDB, SNS, Security Hub and the local Slack server are in tests/handlers/.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.outputs.routing import Router
from engine.pipeline.batch import (
    DROPPED,
    HEARTBEAT_NS,
    OK,
    PERMANENT,
    TRANSIENT,
    UNDECODABLE_RULE,
    Pipeline,
    summarize,
)
from engine.pipeline.firehose import firehose_response
from engine.pipeline.state import MemoryStateStore
from engine.rules import build_engine
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from tests.pipeline.support import (
    ARN,
    CLUSTER,
    ListDeadLetters,
    ScriptedOutput,
    ddl,
    encode,
    failed_login,
    select,
    write_rules,
)

KEY = bytes(range(32))
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    wired = build_engine(write_rules(tmp_path_factory.mktemp("rules")))
    assert wired.loaded.ok and wired.rule_count == 2
    return wired.ruleset


class Setup:
    def __init__(self, keys: LocalKeyProvider, ruleset: RuleSet, *, can_retry: bool = True):
        self.state = MemoryStateStore()
        self.output = ScriptedOutput()
        self.dlq = ListDeadLetters()
        router = Router({"fake": self.output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
        self.pipeline = Pipeline(
            Decoder(keys),
            state=self.state,
            engine=Engine(ruleset, self.state),
            router=router,
            dead_letters=self.dlq,
            clock=lambda: NOW,
            can_retry=can_retry,
        )


def rec(seq: int, data: bytes) -> RawRecord:
    return RawRecord(record_id=str(seq), data=data, stream_arn=ARN)


def test_a_clean_batch_alerts_counts_and_records_heartbeats(keys, encoder, ruleset) -> None:
    s = Setup(keys, ruleset)
    batch = [
        rec(1, encode(encoder, [select("app", 0), ddl("mallory", 1)], heartbeats=2)),
        rec(2, encode(encoder, [], heartbeats=3)),
        rec(3, encode(encoder, [ddl("eve", 2, n=2)])),
    ]
    result = s.pipeline.run(batch)
    assert [o.status for o in result.outcomes] == [OK, DROPPED, OK]
    assert result.transient_ids == []
    assert sorted(a.title for a in s.output.sent) == [
        "DDL by eve: CREATE TABLE",
        "DDL by mallory: CREATE TABLE",
    ]
    assert s.state.read_namespace(HEARTBEAT_NS) == {CLUSTER: NOW}
    summary = summarize(result)
    assert summary["records"] == 3 and summary["events"] == 3 and summary["heartbeats"] == 5
    assert summary["alerts_by_severity"] == {"high": 2}
    assert summary["deliveries"] == {"fake:delivered": 2}


def test_redelivered_batch_sends_nothing_twice(keys, encoder, ruleset) -> None:
    s = Setup(keys, ruleset)
    batch = [rec(1, encode(encoder, [ddl("mallory", 1)])), rec(2, b"not a DAS record")]
    first = s.pipeline.run(batch)
    assert len(s.output.sent) == 2  # the rule alert and the pipeline alert
    again = s.pipeline.run(batch)
    assert len(s.output.sent) == 2
    assert again.skipped_already_sent == 2
    assert {a.id for a in again.alerts} == {a.id for a in first.alerts}  # same ids re-emitted
    assert len(s.dlq.docs) == 1  # the undecodable record is dead-lettered once


def test_retryable_output_failure_marks_exactly_the_records_of_that_alert(
    keys, encoder, ruleset
) -> None:
    s = Setup(keys, ruleset)
    s.output.fail_retryable = {"mallory"}
    batch = [
        rec(1, encode(encoder, [ddl("alice", 1)])),
        rec(2, encode(encoder, [ddl("mallory", 2, n=2)])),
        rec(3, encode(encoder, [select("bob", 3)])),
        rec(4, encode(encoder, [ddl("trent", 4, n=3)])),
    ]
    result = s.pipeline.run(batch)
    assert result.transient_ids == ["2"]
    assert result.outcomes[1].reason == "output_fake"
    # Lambda redelivers from record 2 on: only mallory's alert is sent now.
    s.output.fail_retryable = set()
    retry = s.pipeline.run(batch[1:])
    assert retry.transient_ids == []
    assert [a.title for a in s.output.sent] == [
        "DDL by alice: CREATE TABLE",
        "DDL by trent: CREATE TABLE",
        "DDL by mallory: CREATE TABLE",
    ]


def test_undecodable_records_are_dead_lettered_and_alerted_not_retried(
    keys, encoder, ruleset
) -> None:
    s = Setup(keys, ruleset)
    wrong_key = Encoder(LocalKeyProvider(bytes(32)), CLUSTER)
    batch = [
        rec(1, b"\x00garbage"),
        rec(2, encode(encoder, [ddl("mallory", 1)])),
        rec(3, encode(wrong_key, [ddl("x", 2)])),
        rec(4, b'{"type": "DatabaseActivityMonitoringRecords"}'),
    ]
    result = s.pipeline.run(batch)
    assert [o.status for o in result.outcomes] == [PERMANENT, OK, PERMANENT, PERMANENT]
    assert result.transient_ids == []
    reasons = {d["record_id"]: d["reason"] for d in s.dlq.docs}
    assert reasons == {
        "1": "bad_envelope",
        "3": "wrong_encryption_context",
        "4": "bad_envelope",
    }
    doc = next(d for d in s.dlq.docs if d["record_id"] == "1")
    assert base64.b64decode(doc["data"]) == b"\x00garbage"  # the raw record, replayable
    assert doc["kind"] == "undecodable_record" and doc["resource_id"] == CLUSTER
    pipeline_alerts = [a for a in s.output.sent if a.kind == "pipeline"]
    # one alert per (resource, reason), counting its records
    assert sorted((a.rule_id, a.count) for a in pipeline_alerts) == [
        (UNDECODABLE_RULE, 1),
        (UNDECODABLE_RULE, 2),
    ]
    assert all(CLUSTER in a.title for a in pipeline_alerts)


def test_a_pipeline_alert_that_fails_retryably_retries_its_records_only(
    keys, encoder, ruleset
) -> None:
    s = Setup(keys, ruleset)
    s.output.fail_retryable = {"cannot be decoded"}
    batch = [rec(1, encode(encoder, [ddl("a", 1)])), rec(2, b"junk"), rec(3, b"junk2")]
    result = s.pipeline.run(batch)
    assert result.transient_ids == ["2", "3"]
    assert len(s.dlq.docs) == 2
    s.output.fail_retryable = set()
    s.pipeline.run(batch[1:])
    assert len(s.dlq.docs) == 2  # not dead-lettered a second time


def test_permanent_output_failure_dead_letters_the_alert(keys, encoder, ruleset) -> None:
    s = Setup(keys, ruleset)
    s.output.fail_permanent = {"mallory"}
    result = s.pipeline.run([rec(1, encode(encoder, [ddl("mallory", 1)]))])
    assert result.transient_ids == []
    (doc,) = s.dlq.docs
    assert doc["kind"] == "undeliverable_alert"
    assert doc["output"] == "fake" and "410" in doc["reason"]
    assert doc["alert"]["title"] == "DDL by mallory: CREATE TABLE"
    s.pipeline.run([rec(1, encode(encoder, [ddl("mallory", 1)]))])
    assert len(s.dlq.docs) == 1  # dead-lettered once, not again on redelivery


def test_without_retry_a_retryable_failure_is_dead_lettered(keys, encoder, ruleset) -> None:
    s = Setup(keys, ruleset, can_retry=False)
    s.output.fail_retryable = {"mallory"}
    result = s.pipeline.run([rec(1, encode(encoder, [ddl("mallory", 1)]))])
    assert result.transient_ids == []
    (doc,) = s.dlq.docs
    assert doc["reason"].startswith("retryable failure, no retry possible here")


def test_a_dead_letter_queue_that_is_down_makes_the_record_transient(
    keys, encoder, ruleset
) -> None:
    s = Setup(keys, ruleset)
    s.pipeline.dead_letters = ListDeadLetters(broken=True)
    result = s.pipeline.run([rec(1, b"junk"), rec(2, encode(encoder, [ddl("a", 1)]))])
    assert result.transient_ids == ["1"]
    assert result.outcomes[0].reason == "dead_letter_failed"


def test_secrets_never_reach_the_alert(keys, encoder, ruleset) -> None:
    s = Setup(keys, ruleset)
    sql = "CREATE USER eve WITH PASSWORD 'hunter2-secret'"
    s.pipeline.run([rec(1, encode(encoder, [ddl("eve", 1, sql=sql)]))])
    (alert,) = s.output.sent
    assert "hunter2-secret" not in json.dumps(alert.to_dict())


def test_thresholds_count_across_batches(keys, encoder, ruleset) -> None:
    s = Setup(keys, ruleset)
    s.pipeline.run([rec(1, encode(encoder, [failed_login("bob", 0), failed_login("bob", 10, 2)]))])
    assert s.output.sent == []
    s.pipeline.run([rec(2, encode(encoder, [failed_login("bob", 20, 3)]))])
    (alert,) = s.output.sent
    assert alert.rule_id == "test-failed-logins" and alert.count == 3


def test_firehose_response_answers_every_record_within_the_size_budget(
    keys, encoder, ruleset
) -> None:
    s = Setup(keys, ruleset, can_retry=False)
    sql = "ALTER ROLE app PASSWORD 'hunter2-secret'"
    batch = [
        rec(1, encode(encoder, [ddl("a", 1, sql=sql), select("b", 2)], heartbeats=1)),
        rec(2, encode(encoder, [], heartbeats=4)),
        rec(3, b"junk"),
        rec(4, encode(encoder, [select("c", 3)])),
    ]
    result = s.pipeline.run(batch, keep_events=True)
    answer = firehose_response(batch, result)["records"]
    assert [(r["recordId"], r["result"]) for r in answer] == [
        ("1", "Ok"),
        ("2", "Dropped"),
        ("3", "ProcessingFailed"),
        ("4", "Ok"),
    ]
    lines = base64.b64decode(answer[0]["data"]).decode().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["dbUserName"] for e in events] == ["a", "b"]
    assert events[0]["das"]["clusterId"] == CLUSTER
    assert "hunter2-secret" not in answer[0]["data"] and "hunter2-secret" not in "".join(lines)
    # a budget that holds the first record only: the rest is answered, not dropped
    first_size = len(answer[0]["data"]) + len("1") + 64
    result = s.pipeline.run(batch, keep_events=True)
    small = firehose_response(batch, result, limit=first_size + 3 * 70)["records"]
    assert [r["result"] for r in small] == ["Ok", "Dropped", "ProcessingFailed", "ProcessingFailed"]
    assert result.outcomes[3].reason == "response_too_large"


def test_engine_less_pipeline_only_decodes(keys, encoder, tmp_path: Path) -> None:
    state = MemoryStateStore()
    p = Pipeline(Decoder(keys), state=state, clock=lambda: NOW)
    result = p.run([rec(1, encode(encoder, [ddl("a", 1)]))], keep_events=True)
    assert result.outcomes[0].status == OK and result.alerts == []
    assert result.outcomes[0].normalized[0]["das"]["action"] == "DDL"
    assert result.transient_ids == [] and TRANSIENT not in {o.status for o in result.outcomes}
