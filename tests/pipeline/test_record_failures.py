"""Only a transient failure retries a record: a rule bug or a state store that refuses for good
is dead-lettered and alerted, never returned in ``batchItemFailures``.

The rule bug is an engine that raises on one user's events (our own class: nothing of boto3 is
touched); the state store is DynamoDB over real HTTP — a table that does not exist on the moto
server (permanent) and a closed loopback port (transient).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from botocore.config import Config

from engine.alerts import system
from engine.das.decoder import Decoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.outputs.routing import Router
from engine.pipeline.batch import OK, PERMANENT, TRANSIENT, Pipeline, RecordStatus, summarize
from engine.pipeline.metrics import emit_batch
from engine.pipeline.state import MemoryStateStore, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules import build_engine
from engine.rules.runtime.engine import Engine, EngineResult
from tests.pipeline.support import (
    ARN,
    CLUSTER,
    ListDeadLetters,
    ScriptedOutput,
    ddl,
    encode,
    failed_login,
    write_rules,
)
from tests.support.aws_fault_server import closed_port

KEY = bytes(range(32))
NOW = 1_800_000_000.0
ONE_TRY = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)


class BuggyEngine(Engine):
    """The real engine, except that evaluating mallory's events raises (a bug in a rule's code
    path that the rule set's isolation does not catch)."""

    def process(self, events: Any, origins: Any = None) -> EngineResult:
        events = list(events)
        if any(e.get("dbUserName") == "mallory" for e in events):
            raise ZeroDivisionError("division by zero in ALTER USER app PASSWORD 'hunter2'")
        return super().process(events, origins)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_engine(write_rules(tmp_path_factory.mktemp("rules"))).ruleset


def rec(seq: int, data: bytes) -> RawRecord:
    return RawRecord(record_id=str(seq), data=data, stream_arn=ARN)


def pipeline(
    keys: LocalKeyProvider, engine: Any, state: StateStore
) -> tuple[Pipeline, ScriptedOutput, ListDeadLetters]:
    output, dlq = ScriptedOutput(), ListDeadLetters()
    router = Router({"fake": output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
    p = Pipeline(
        Decoder(keys),
        state=state,
        engine=engine,
        router=router,
        dead_letters=dlq,
        clock=lambda: NOW,
    )
    return p, output, dlq


def batch_item_failures(result: Any) -> list[dict[str, str]]:
    """What the Kinesis handler returns for a batch result."""
    return [{"itemIdentifier": rid} for rid in result.transient_ids]


def test_a_rule_bug_is_alerted_and_dead_lettered_never_retried(keys, encoder, rules) -> None:
    state = MemoryStateStore()
    p, output, dlq = pipeline(keys, BuggyEngine(rules, state), state)
    batch = [
        rec(1, encode(encoder, [ddl("alice", 1)])),
        rec(2, encode(encoder, [ddl("mallory", 2, n=2)])),
        rec(3, encode(encoder, [ddl("trent", 3, n=3)])),
    ]
    result = p.run(batch)
    assert [o.status for o in result.outcomes] == [OK, PERMANENT, OK]
    assert result.outcomes[1].reason == "engine_error"
    assert batch_item_failures(result) == []
    # the record is kept, replayable: the raw data in the dead-letter queue
    (doc,) = dlq.docs
    assert doc["kind"] == "unevaluated_record" and doc["record_id"] == "2"
    assert doc["reason"] == "engine_error" and doc["data"]
    # responders hear about it on the rule-error route; the other records alerted as usual
    (err,) = [a for a in output.sent if a.rule_id == system.UNEVALUATED_RULE]
    assert err.kind == "rule_error" and err.severity == "high"
    assert err.title == f"The rule engine failed (ZeroDivisionError) on records from {CLUSTER}"
    assert err.event["records"] == ["2"]
    assert err.event["error"].startswith("ZeroDivisionError: division by zero in ALTER USER")
    assert "hunter2" not in repr(err) and "hunter2" not in repr(doc)  # redacted like rule errors
    assert sorted(a.title for a in output.sent if a.kind == "rule") == [
        "DDL by alice: CREATE TABLE",
        "DDL by trent: CREATE TABLE",
    ]
    summary = summarize(result)
    assert summary["failed_permanent"] == 1 and summary["failed_transient"] == 0
    assert summary["dead_letters"]["unevaluated_record"] == 1
    # Lambda redelivers the batch (say an unrelated record failed): nothing twice
    again = p.run(batch)
    assert batch_item_failures(again) == [] and len(dlq.docs) == 1
    assert again.skipped_already_sent == len(result.alerts)


@pytest.fixture
def table(aws: str) -> str:
    create_table(boto3.client("dynamodb"), "dasalert-state")
    return "dasalert-state"


def test_a_state_table_that_does_not_exist_is_permanent_not_a_retry(
    keys, encoder, rules, table
) -> None:
    state = DynamoDBStateStore("no-such-table", boto3.client("dynamodb", config=ONE_TRY))
    p, output, dlq = pipeline(keys, Engine(rules, state), state)
    batch = [rec(1, encode(encoder, [failed_login("eve", 1)]))]  # the threshold rule counts
    result = p.run(batch)
    assert [(o.status, o.reason) for o in result.outcomes] == [(PERMANENT, "state_error")]
    assert batch_item_failures(result) == []
    assert [d["kind"] for d in dlq.docs] == ["unevaluated_record"]
    (alert,) = output.sent  # sent although the store cannot remember it: at least once
    assert alert.rule_id == system.STATE_ERROR_RULE and alert.kind == "pipeline"
    assert "ResourceNotFoundException" in alert.event["error"]


def test_an_unreachable_state_table_retries_the_record(keys, encoder, rules, aws) -> None:
    url = closed_port()
    state = DynamoDBStateStore(
        "dasalert-state", boto3.client("dynamodb", endpoint_url=url, config=ONE_TRY)
    )
    p, output, dlq = pipeline(keys, Engine(rules, state), state)
    batch = [
        rec(1, encode(encoder, [ddl("alice", 1)])),  # no state needed: alerted
        rec(2, encode(encoder, [failed_login("eve", 2, n=2)])),  # counts: must wait
    ]
    result = p.run(batch)
    # both records are settled in one engine call, which could not reach the store: both wait
    # (alice's alert needs no counting, but it could not be checked against what was sent)
    assert [(o.status, o.reason) for o in result.outcomes] == [
        (TRANSIENT, "state_unavailable"),
        (TRANSIENT, "state_unavailable"),
    ]
    assert all(isinstance(o.status, RecordStatus) for o in result.outcomes)
    assert batch_item_failures(result) == [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]
    assert dlq.docs == [] and output.sent == []  # nothing lost, nothing sent twice later


def test_dead_lettered_records_of_both_kinds_are_counted(keys, encoder, rules, capsys) -> None:
    state = MemoryStateStore()
    p, _, dlq = pipeline(keys, BuggyEngine(rules, state), state)
    result = p.run([rec(1, b"not a DAS record"), rec(2, encode(encoder, [ddl("mallory", 2)]))])
    assert sorted(d["kind"] for d in dlq.docs) == ["undecodable_record", "unevaluated_record"]
    capsys.readouterr()
    metrics = Metrics(namespace="dasalert", service="dasalert")
    emit_batch(metrics, result)
    metrics.flush_metrics()
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    totals = next(d for d in docs if "RecordsDeadLettered" in d)
    assert totals["RecordsDeadLettered"] == [2.0]
    reasons = {d["Reason"]: d["RecordsFailed"] for d in docs if "Reason" in d}
    assert reasons == {"bad_envelope": [1.0], "engine_error": [1.0]}
    assert totals["RecordsRetried"] == [0.0]
