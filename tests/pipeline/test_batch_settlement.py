"""A batch's records are evaluated in one engine call, and every alert still maps to the records
behind it: an alert that cannot be delivered retries exactly those records, and the redelivery
emits it again (same id) whichever of them comes back first.

Records are real-format (our encoder) under a local key; the state is the in-memory store (the
same flows on DynamoDB over the moto server are in tests/handlers/ and test_state_requests.py);
the destination is a scripted implementation of our own Output interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.outputs.routing import Router
from engine.pipeline.batch import OK, TRANSIENT, Pipeline
from engine.pipeline.state import MemoryStateStore
from engine.rules import build_engine
from engine.rules.runtime.engine import Engine, EngineResult
from engine.rules.runtime.ruleset import RuleSet
from tests.pipeline.support import (
    ARN,
    CLUSTER,
    FIRST_SEEN_RULE,
    FOLD_RULE,
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

READS_RULE = """\
id: test-reads
title: "Reads by {dbUserName}"
severity: high
when: "das.action == 'READ' && dbUserName == 'mallory'"
dedup: {key: dbUserName, window: 1h}
"""
SPRAY_RULE = """\
id: test-spray
title: "Spray from {remoteHost}"
severity: high
when: "das.action == 'LOGIN_FAILED'"
threshold: {count: 3, distinct: dbUserName, window: 10m, group_by: remoteHost}
"""


def login_failed(user: str, host: str, at: float, n: int) -> dict[str, Any]:
    return failed_login(user, at, n=n) | {"remoteHost": host}


class CountingEngine(Engine):
    """The real engine, counting its calls and the events of each."""

    calls: list[int]

    def process(self, events: Any, origins: Any = None) -> EngineResult:
        events = list(events)
        self.calls.append(len(events))
        return super().process(events, origins)


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    directory = write_rules(tmp_path_factory.mktemp("rules"))
    (directory / "test-reads.yaml").write_text(READS_RULE)
    (directory / "test-spray.yaml").write_text(SPRAY_RULE)
    wired = build_engine(directory)
    assert wired.loaded.ok and wired.rule_count == 4, wired.loaded
    return wired.ruleset


class Setup:
    def __init__(self, keys: LocalKeyProvider, ruleset: RuleSet, **pipeline: Any) -> None:
        self.state = MemoryStateStore()
        self.output = ScriptedOutput()
        self.engine = CountingEngine(ruleset, self.state)
        self.engine.calls = []
        router = Router({"fake": self.output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
        self.pipeline = Pipeline(
            Decoder(keys),
            state=self.state,
            engine=self.engine,
            router=router,
            dead_letters=ListDeadLetters(),
            clock=lambda: NOW,
            **pipeline,
        )


def rec(seq: int, data: bytes) -> RawRecord:
    return RawRecord(record_id=str(seq), data=data, stream_arn=ARN)


@pytest.fixture
def batch(encoder: Encoder) -> list[RawRecord]:
    """Seven records: mallory's reads (one dedup window) in 1, 3 and 5; eve's failed logins
    (a count threshold of 3) in 2, 4 and 6; a spray from one host over three users in 2, 4
    and 6; alice's DDL (one alert per event) in 0; plain SELECTs in 7."""
    e = encoder
    spray = "198.51.100.9"
    return [
        rec(0, encode(e, [ddl("alice", 1, n=1)])),
        rec(1, encode(e, [select("mallory", 2, n=2)])),
        rec(2, encode(e, [failed_login("eve", 3, n=3), login_failed("u1", spray, 3, 4)])),
        rec(3, encode(e, [select("mallory", 4, n=5), select("bob", 4, n=6)])),
        rec(4, encode(e, [failed_login("eve", 5, n=7), login_failed("u2", spray, 5, 8)])),
        rec(5, encode(e, [select("mallory", 6, n=9)])),
        rec(6, encode(e, [failed_login("eve", 7, n=10), login_failed("u3", spray, 7, 11)])),
        rec(7, encode(e, [select("bob", 8, n=12)])),
    ]


def titles(output: ScriptedOutput) -> list[str]:
    return sorted(a.title for a in output.sent)


EXPECTED = [
    "DDL by alice: CREATE TABLE",
    "Failed logins by eve",
    "Reads by mallory",
    "Spray from 198.51.100.9",
]


def test_the_whole_batch_is_one_engine_call(keys, ruleset, batch) -> None:
    s = Setup(keys, ruleset)
    result = s.pipeline.run(batch)
    assert s.engine.calls == [12]
    assert [o.status for o in result.outcomes] == [OK] * 8
    assert titles(s.output) == EXPECTED
    (reads,) = [a for a in result.alerts if a.rule_id == "test-reads"]
    assert reads.count == 3  # the window's three reads in one alert, not an opening + updates


def test_a_batch_gives_the_same_alerts_as_one_call_per_record(keys, ruleset, batch) -> None:
    together = Setup(keys, ruleset)
    one_by_one = Setup(keys, ruleset, events_per_call=1)
    a = together.pipeline.run(batch)
    b = one_by_one.pipeline.run(batch)
    assert len(one_by_one.engine.calls) == 8
    assert {x.id for x in a.alerts} == {x.id for x in b.alerts}
    assert titles(together.output) == titles(one_by_one.output) == EXPECTED


@pytest.mark.parametrize(
    ("word", "records"),
    [
        ("Reads", ["1", "3", "5"]),  # every record of the dedup window
        ("Failed logins", ["2", "4", "6"]),  # every record of the threshold's group
        ("Spray", ["2", "4", "6"]),  # every record of the distinct count's group
        ("alice", ["0"]),  # one event, one record
    ],
)
def test_an_undeliverable_alert_retries_exactly_its_records(
    keys, ruleset, batch, word: str, records: list[str]
) -> None:
    s = Setup(keys, ruleset)
    s.output.fail_retryable = {word}
    result = s.pipeline.run(batch)
    assert result.transient_ids == records
    assert {o.reason for o in result.outcomes if o.status == TRANSIENT} == {"output_fake"}
    assert next(t for t in EXPECTED if word in t) not in titles(s.output)
    # Lambda redelivers from the lowest failed record on: the alert is sent now, under the same
    # id, and nothing already sent goes out twice
    s.output.fail_retryable = set()
    first_ids = {a.id for a in result.alerts if word in a.title}
    retry = s.pipeline.run(batch[int(records[0]) :])
    assert retry.transient_ids == []
    assert titles(s.output) == EXPECTED
    assert {a.id for a in s.output.sent if word in a.title} == first_ids


def test_a_big_batch_is_split_at_record_boundaries(keys, ruleset, batch) -> None:
    s = Setup(keys, ruleset, events_per_call=4)
    result = s.pipeline.run(batch)
    # records of 1+1+2 | 2+2 | 1+2+1 events: a call ends with the record that reaches four
    assert s.engine.calls == [4, 4, 4]
    assert [o.status for o in result.outcomes] == [OK] * 8
    assert titles(s.output) == EXPECTED


def test_a_rule_engine_bug_is_isolated_to_its_record(keys, ruleset, encoder, batch) -> None:
    class Buggy(CountingEngine):
        def process(self, events: Any, origins: Any = None) -> EngineResult:
            events = list(events)
            if any(e.get("dbUserName") == "bob" for e in events):
                self.calls.append(-len(events))
                raise RuntimeError("a bug")
            return super().process(events, origins)

    s = Setup(keys, ruleset)
    s.engine = Buggy(ruleset, s.state)
    s.engine.calls = []
    s.pipeline.engine = s.engine
    result = s.pipeline.run(batch)
    # the batch call fails; each record alone: only the two with bob's SELECTs are dead-lettered
    assert s.engine.calls[0] == -12 and len(s.engine.calls) == 9
    assert [o.record_id for o in result.outcomes if o.status != OK] == ["3", "7"]
    assert {o.reason for o in result.outcomes if o.status != OK} == {"engine_error"}
    assert result.transient_ids == []
    assert "Failed logins by eve" in titles(s.output) and "Spray from 198.51.100.9" in titles(
        s.output
    )


def test_origins_name_the_records_behind_each_alert(ruleset) -> None:
    engine = Engine(ruleset, MemoryStateStore())
    events = [
        select("mallory", 1, n=1),
        failed_login("eve", 2, n=2),
        select("mallory", 3, n=3),
        failed_login("eve", 4, n=4),
        select("bob", 5, n=5),
        failed_login("eve", 6, n=6),
    ]
    from engine.events import normalize

    normalized = [normalize(e, cluster_id=CLUSTER) for e in events]
    result = engine.process(normalized, [10, 11, 12, 13, 14, 15])
    by_rule = {a.rule_id: result.sources[a.id] for a in result.alerts}
    assert by_rule == {"test-reads": {10, 12}, "test-failed-logins": {11, 13, 15}}
    # without origins the engine says nothing about sources, and alerts the same
    plain = Engine(ruleset, MemoryStateStore()).process(normalized)
    assert plain.sources == {} and [a.id for a in plain.alerts] == [a.id for a in result.alerts]


def test_the_cli_path_is_unchanged_without_origins(tmp_path: Path, ruleset) -> None:
    """``dasalert eval`` and the rule tests call ``process(events)``: no origins, no sources."""
    from engine.events import normalize

    result = Engine(ruleset, MemoryStateStore()).process(
        [normalize(ddl("alice", 1), cluster_id=CLUSTER)]
    )
    assert [a.title for a in result.alerts] == ["DDL by alice: CREATE TABLE"]
    assert result.sources == {}


def test_a_call_holds_no_more_events_than_a_stateful_rule_may_track_keys() -> None:
    """Splitting a batch at the stateful rules' key cap: one call never drops keys that one call
    per record would have kept."""
    from engine.pipeline.batch import EVENTS_PER_CALL
    from engine.rules.runtime.stateful import MAX_KEYS_PER_CALL

    assert EVENTS_PER_CALL == MAX_KEYS_PER_CALL


def test_a_call_never_holds_more_than_events_per_call_events(keys, ruleset, batch) -> None:
    s = Setup(keys, ruleset, events_per_call=3)
    result = s.pipeline.run(batch)
    # records of 1, 1, 2, 2, 2, 1, 2, 1 events: a record that would take a call past three
    # events starts the next call
    assert s.engine.calls == [2, 2, 2, 3, 3]
    assert [o.status for o in result.outcomes] == [OK] * 8
    assert titles(s.output) == EXPECTED


def own_rules(tmp_path: Path, name: str, text: str) -> RuleSet:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / f"{name}.yaml").write_text(text)
    wired = build_engine(directory)
    assert wired.loaded.ok, wired.loaded
    return wired.ruleset


@pytest.mark.parametrize("per_call", [1, 2, 5000])
def test_an_escalation_survives_a_later_call_of_the_same_batch(
    tmp_path: Path, keys, encoder, per_call: int
) -> None:
    """A batch split in calls: the first call escalates the window (a new verb), the second only
    adds noise to it. The alert delivered for the batch is still the escalation."""
    s = Setup(keys, own_rules(tmp_path, "test-fold", FOLD_RULE), events_per_call=per_call)
    s.pipeline.run([rec(0, encode(encoder, [select("mallory", 1, n=1)]))])  # the window opens
    noise = [rec(2 + i, encode(encoder, [select("mallory", 20 + i, n=3 + i)])) for i in range(2)]
    drop = rec(1, encode(encoder, [ddl("mallory", 10, n=2, sql="DROP TABLE audit_log")]))
    result = s.pipeline.run([drop, *noise])
    (alert,) = result.alerts
    assert alert.count == 4  # the later call's count
    assert alert.escalation is not None
    assert "new verb: DROP TABLE" in alert.escalation["reasons"]
    assert "DROP TABLE audit_log" in str(alert.event)  # the statement that escalated it
    assert [a.escalation is not None for a in s.output.sent] == [False, True]


def test_a_first_seen_alert_retries_only_its_records(tmp_path: Path, keys, encoder) -> None:
    s = Setup(keys, own_rules(tmp_path, "test-fs", FIRST_SEEN_RULE))
    s.pipeline.run([rec(9, encode(encoder, [select("z", 0, n=99)]))])  # learning starts
    s.pipeline.run([rec(8, encode(encoder, [select("a", 5, n=98)]))])  # "a" is known
    s.output.fail_retryable = {"New user e"}
    result = s.pipeline.run(
        [
            rec(0, encode(encoder, [select("a", 6, n=1)])),
            rec(1, encode(encoder, [select("a", 7, n=2)])),
            rec(2, encode(encoder, [select("e", 8, n=3)])),
        ]
    )
    assert result.transient_ids == ["2"]
