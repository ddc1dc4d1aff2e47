"""A sequence alert carries each step's first and last event (redacted, cut to 4 KiB), whether
the steps arrived in one batch or across batches and cold starts, in memory and on DynamoDB."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from engine.alerts.redact import CUT_MARKER
from engine.pipeline.state import MemoryStateStore, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.runtime.sequence import MAX_STORED_EVENT_BYTES, stored_event
from tests.rules.runtime.test_stateful_rules import SEQ, engine, fail, ok

SECRET = "hunter2-Secret!"


def leaky_fail(t: float) -> dict[str, Any]:
    """A failed login whose statement holds a password (what redaction must mask)."""
    ev = fail(t)
    ev["commandText"] = f"ALTER USER app PASSWORD '{SECRET}'"
    return ev


def steps_of(alert: Any) -> list[dict[str, Any]]:
    return alert.context["sequence"]["steps"]


@pytest.fixture(params=["memory", "dynamodb"])
def new_store(request: pytest.FixtureRequest):
    """A factory of stores on one backend: each call is a cold start."""
    if request.param == "memory":
        shared = MemoryStateStore()
        return lambda: shared
    request.getfixturevalue("aws")
    create_table(boto3.client("dynamodb"), "dasalert-state")
    return lambda: DynamoDBStateStore("dasalert-state", boto3.client("dynamodb"))


def test_each_step_has_its_first_and_last_event_redacted(new_store) -> None:
    res = engine(SEQ, new_store()).process([leaky_fail(0), fail(1), leaky_fail(2), ok(3)])
    (alert,) = res.alerts
    failures, success = steps_of(alert)
    assert failures["count"] == 3
    assert failures["first_event"]["statementId"] == 0
    assert failures["last_event"]["statementId"] == 2
    assert success["first_event"]["statementId"] == success["last_event"]["statementId"] == 3
    assert "***" in failures["first_event"]["commandText"]
    assert SECRET not in json.dumps(alert.context)


def test_a_sequence_split_across_batches_and_cold_starts_shows_the_stored_events(
    new_store,
) -> None:
    assert engine(SEQ, new_store()).process([leaky_fail(0), fail(1)]).alerts == []
    done = engine(SEQ, new_store()).process([fail(2), ok(3)])
    (alert,) = done.alerts
    failures, success = steps_of(alert)
    assert [failures["first_event"]["statementId"], failures["last_event"]["statementId"]] == [
        0,
        2,
    ]
    assert success["last_event"]["statementId"] == 3
    assert SECRET not in json.dumps(alert.context)
    # the same alert, whichever way the stream was batched
    whole = engine(SEQ, MemoryStateStore()).process([leaky_fail(0), fail(1), fail(2), ok(3)])
    assert steps_of(whole.alerts[0]) == steps_of(alert)
    # a redelivery of the completing batch re-sends the same alert, events included
    again = engine(SEQ, new_store()).process([fail(2), ok(3)])
    assert [a.id for a in again.alerts] == [alert.id]
    assert steps_of(again.alerts[0]) == steps_of(alert)


def test_a_huge_step_event_is_cut_to_the_stored_size(new_store) -> None:
    big = fail(0)
    big["commandText"] = "SELECT " + "x" * 50_000
    alert = engine(SEQ, new_store()).process([big, fail(1), fail(2), ok(3)]).alerts[0]
    first = steps_of(alert)[0]["first_event"]
    assert CUT_MARKER in first["commandText"]
    assert len(json.dumps(first).encode()) <= MAX_STORED_EVENT_BYTES


def test_stored_event_keeps_small_events_whole_and_cuts_the_rest() -> None:
    small = {"dbUserName": "app", "das": {"action": "CONNECT"}, "n": 1}
    assert json.loads(stored_event(small)) == small
    wide = {f"f{i}": "y" * 100 for i in range(200)} | {"das": {"action": "READ"}}
    cut = json.loads(stored_event(wide))
    assert len(json.dumps(cut, ensure_ascii=False).encode()) <= MAX_STORED_EVENT_BYTES
    assert cut["das"] == {"action": "READ"} and cut["_cut"]  # dropped fields are named
    nested = {"das": {"sql": "z" * 10_000}, "a": ["w" * 10_000]}
    out = stored_event(nested)
    assert len(out.encode()) <= MAX_STORED_EVENT_BYTES and CUT_MARKER in out


def test_stored_step_events_are_bounded_per_batch() -> None:
    state: StateStore = MemoryStateStore()
    eng = engine(SEQ, state)
    for batch in range(5):
        eng.process([fail(batch * 100 + i) for i in range(100)])
    assert isinstance(state, MemoryStateStore)
    # per batch: min (3) members and their 3 events, plus the key's head
    assert state.size() <= 5 * 3 * 2 + 1
