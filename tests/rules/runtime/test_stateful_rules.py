"""Sequences, first seen, distinct counts and escalation: across batches, redelivery, shards."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pipeline.state import MemoryStateStore, StateStore
from engine.rules.lang.loader import load_rule_text
from engine.rules.model import Rule
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from tests.rules.runtime.test_engine import T0, ev

SEQ = """
id: login-success-after-failures
title: "Login after failures from {remoteHost}"
severity: high
escalate:
  - {when: "!cidr_match(remoteHost, '10.0.0.0/8')", severity: critical}
sequence:
  by: "[das.clusterId || das.instanceId, remoteHost]"
  within: 10m
  steps:
    - when: "das.action == 'LOGIN_FAILED'"
      min: 3
    - when: "das.action == 'CONNECT'"
"""

FIRST_SEEN = """
id: new-source
title: "{dbUserName} from a new network"
severity: medium
when: "das.action == 'CONNECT'"
first_seen:
  key: "[dbUserName, remoteHost]"
  scope: "das.clusterId"
  learn: 1d
  remember: 30d
"""

SPRAY = """
id: password-spray
title: "Spray from {remoteHost}"
severity: high
when: "das.action == 'LOGIN_FAILED'"
threshold: {count: 3, distinct: dbUserName, window: 10m, group_by: remoteHost}
"""


def load(text: str) -> Rule:
    rule, problems, _ = load_rule_text(text, "r.yaml")
    assert rule is not None, [str(p) for p in problems]
    return rule


def engine(text: str, state: StateStore | None = None) -> Engine:
    """A fresh engine (a cold start) on ``state``: only the store carries anything over."""
    from jmespath import Options

    from tests.rules.runtime.test_engine import BoomFunctions

    ruleset = RuleSet([load(text)], options=Options(custom_functions=BoomFunctions()))
    return Engine(ruleset, state if state is not None else MemoryStateStore())


def fail(t: float, host: str = "10.0.0.9", user: str = "app") -> dict[str, Any]:
    return ev("LOGIN_FAILED", T0 + t, remoteHost=host, dbUserName=user, statementId=t)


def ok(t: float, host: str = "10.0.0.9", user: str = "app") -> dict[str, Any]:
    return ev("CONNECT", T0 + t, remoteHost=host, dbUserName=user, statementId=t)


# -- sequence ---------------------------------------------------------------------------------


def test_sequence_fires_when_the_last_step_follows_the_others_in_time() -> None:
    res = engine(SEQ).process([fail(0), fail(1), fail(2), ok(3)])
    assert [a.rule_id for a in res.alerts] == ["login-success-after-failures"]
    alert = res.alerts[0]
    assert alert.count == 4 and alert.severity == "high"  # 10/8: not escalated
    steps = alert.context["sequence"]["steps"]
    assert [s["count"] for s in steps] == [3, 1]
    assert alert.first_seen is not None and alert.first_seen < alert.last_seen  # type: ignore[operator]


@pytest.mark.parametrize(
    "events",
    [
        [fail(0), fail(1), ok(3)],  # too few failures
        [ok(0), fail(1), fail(2), fail(3)],  # wrong order
        [fail(0), fail(1), fail(2), ok(601)],  # longer than `within`
        [fail(0), fail(1), fail(2), ok(3, host="10.0.0.7")],  # another key
    ],
)
def test_sequence_stays_quiet(events: list[dict[str, Any]]) -> None:
    assert engine(SEQ).process(events).alerts == []


def test_sequence_split_across_batches_and_cold_starts_fires_once() -> None:
    state = MemoryStateStore()
    assert engine(SEQ, state).process([fail(0), fail(1)]).alerts == []
    assert engine(SEQ, state).process([fail(2)]).alerts == []
    first = engine(SEQ, state).process([ok(3), ok(4)])
    assert len(first.alerts) == 1  # the second success has no failures left to complete
    # the completing batch redelivered: the same alert id (a replay), never a second one
    again = engine(SEQ, state).process([ok(3), ok(4)])
    assert [a.id for a in again.alerts] == [first.alerts[0].id]
    assert again.alerts[0].context.get("replay") is True
    # a new burst after it fires again, with a new id
    later = engine(SEQ, state).process([fail(10), fail(11), fail(12), ok(13)])
    assert len(later.alerts) == 1 and later.alerts[0].id != first.alerts[0].id


def test_sequence_escalates_on_a_public_source() -> None:
    res = engine(SEQ).process([fail(0, "52.1.2.3"), fail(1, "52.1.2.3"), fail(2, "52.1.2.3")])
    assert res.alerts == []
    res = engine(SEQ).process([fail(t, "52.1.2.3") for t in range(3)] + [ok(5, "52.1.2.3")])
    assert [a.severity for a in res.alerts] == ["critical"]


def test_sequence_state_is_a_few_items_per_key_however_many_failures() -> None:
    state = MemoryStateStore()
    eng = engine(SEQ, state)
    for batch in range(5):
        eng.process([fail(batch * 100 + i) for i in range(100)])
    # min 3 per step per batch: 5 batches x 3 members and their stored events (and the key's
    # head), not 500
    assert state.size() <= 5 * 3 * 2 + 1


def test_cap_per_call_is_counted_not_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.rules.runtime.sequence.MAX_KEYS_PER_CALL", 2)
    res = engine(SEQ).process([fail(i, host=f"10.0.0.{i}") for i in range(5)])
    assert res.state_dropped == 3


def test_concurrent_completions_alert_once() -> None:
    """Two invocations (shards) complete the same sequence: one alert between them."""
    state = MemoryStateStore()
    engine(SEQ, state).process([fail(0), fail(1), fail(2)])
    a = engine(SEQ, state).process([ok(3)])
    b = engine(SEQ, state).process([ok(3.5)])
    assert len(a.alerts) + len(b.alerts) == 1


# -- first seen -------------------------------------------------------------------------------

DAY = 86400


def test_first_seen_learns_then_alerts_on_new_values_only() -> None:
    state = MemoryStateStore()
    learned = engine(FIRST_SEEN, state).process([ok(0, "10.0.0.1"), ok(60, "10.0.0.2")])
    assert learned.alerts == [] and learned.learning == 2
    res = engine(FIRST_SEEN, state).process(
        [ok(2 * DAY, "10.0.0.1"), ok(2 * DAY + 1, "10.0.0.3"), ok(2 * DAY + 2, "10.0.0.3")]
    )
    assert len(res.alerts) == 1
    assert res.alerts[0].context["first_seen"]["value"] == ["app", "10.0.0.3"]
    # redelivery: the same alert again, marked replay; a later event of the value: nothing
    again = engine(FIRST_SEEN, state).process([ok(2 * DAY + 1, "10.0.0.3")])
    assert [a.id for a in again.alerts] == [res.alerts[0].id]
    assert again.alerts[0].context["replay"] is True
    assert engine(FIRST_SEEN, state).process([ok(3 * DAY, "10.0.0.3")]).alerts == []


def test_first_seen_redelivery_replays_though_an_earlier_event_of_the_value_comes_first() -> None:
    """A redelivered batch is refilled with newer records: one may hold an event of the same value
    with an earlier time (another instance's clock). The event that alerted is still found, so
    its alert comes again (same id, replay); the earlier one is only a known value."""
    state = MemoryStateStore()
    engine(FIRST_SEEN, state).process([ok(0, "10.0.0.1")])
    res = engine(FIRST_SEEN, state).process([ok(2 * DAY, "10.0.0.7")])
    (alert,) = res.alerts
    earlier = ok(2 * DAY - 30, "10.0.0.7") | {"statementId": "other instance"}
    again = engine(FIRST_SEEN, state).process([earlier, ok(2 * DAY, "10.0.0.7")])
    assert [(a.id, a.context["replay"]) for a in again.alerts] == [(alert.id, True)]
    assert again.alerts[0].first_seen == alert.first_seen
    # a new event of the value, earlier than the one that alerted: nothing
    assert engine(FIRST_SEEN, state).process([earlier]).alerts == []


def test_first_seen_learning_is_per_scope() -> None:
    state = MemoryStateStore()
    engine(FIRST_SEEN, state).process([ok(0, "10.0.0.1")])
    other = ev("CONNECT", T0 + 2 * DAY, remoteHost="10.9.9.9", statementId=1)
    other["das"]["clusterId"] = "cluster-B"  # a new cluster learns on its own
    assert engine(FIRST_SEEN, state).process([other]).alerts == []


def test_first_seen_concurrent_invocations_alert_once() -> None:
    state = MemoryStateStore()
    engine(FIRST_SEEN, state).process([ok(0, "10.0.0.1")])
    a = engine(FIRST_SEEN, state).process([ok(2 * DAY, "10.0.0.5")])
    b = engine(FIRST_SEEN, state).process([ok(2 * DAY + 5, "10.0.0.5")])
    assert len(a.alerts) + len(b.alerts) == 1


def test_first_seen_forgets_after_remember() -> None:
    state = MemoryStateStore()
    engine(FIRST_SEEN, state).process([ok(0, "10.0.0.1")])
    engine(FIRST_SEEN, state).process([ok(2 * DAY, "10.0.0.1")])  # known
    state._now = T0 + 29 * DAY  # within `remember` of day 2: still known
    assert engine(FIRST_SEEN, state).process([ok(29 * DAY, "10.0.0.1")]).alerts == []
    # 29 days was a refresh (less than `remember` was left): forgotten 1.5 x 30 days later,
    # while the scope's learning start (kept 2 x (learn + remember)) is not
    state._now = T0 + 76 * DAY
    assert len(engine(FIRST_SEEN, state).process([ok(76 * DAY, "10.0.0.1")]).alerts) == 1


# -- distinct count ---------------------------------------------------------------------------


def test_distinct_counts_values_not_events_across_batches() -> None:
    state = MemoryStateStore()
    assert engine(SPRAY, state).process([fail(0, user="a"), fail(1, user="a")]).alerts == []
    assert engine(SPRAY, state).process([fail(2, user="b"), fail(3, user="b")]).alerts == []
    res = engine(SPRAY, state).process([fail(4, user="c"), fail(5, user="d")])
    assert len(res.alerts) == 1
    assert res.alerts[0].count == 3 and res.alerts[0].context["values"] == ["a", "b", "c"]
    again = engine(SPRAY, state).process([fail(4, user="c"), fail(5, user="d")])
    assert [a.id for a in again.alerts] == [res.alerts[0].id]


def test_distinct_window_slides() -> None:
    res = engine(SPRAY).process([fail(0, user="a"), fail(1, user="b"), fail(700, user="c")])
    assert res.alerts == []


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle", "hint"),
    [
        (SEQ.replace("within: 10m", "withn: 10m"), "unknown key `withn`", "within"),
        (SEQ.replace("min: 3", "min: 0"), "`sequence.steps.min`", None),
        (SEQ.replace("severity: critical", "severity: urgent"), "escalate.severity", None),
        (FIRST_SEEN.replace("learn: 1d", "learn: soon"), "first_seen.learn", "duration"),
        (SPRAY.replace("distinct: dbUserName", "distinct: lowr(dbUserName)"), "lowr", "lower"),
        (FIRST_SEEN + "threshold: {count: 2, window: 1m}\n", "at most one of", "split"),
        (SEQ.replace("    - when: \"das.action == 'CONNECT'\"\n", ""), "2 to 10 steps", None),
    ],
)
def test_problems_point_at_the_line_with_a_fix(text: str, needle: str, hint: str | None) -> None:
    rule, problems, _ = load_rule_text(text, "r.yaml")
    assert rule is None
    found = [p for p in problems if needle in p.message]
    assert found, [str(p) for p in problems]
    assert found[0].line is not None and found[0].file == "r.yaml"
    if hint:
        assert hint in (found[0].suggestion or "") or hint in found[0].message


def test_sequence_rule_needs_no_when_and_indexes_its_steps_actions() -> None:
    rule = load(SEQ)
    assert rule.actions == frozenset({"LOGIN_FAILED", "CONNECT"})


def test_an_escalation_that_raises_is_skipped_never_losing_the_alert() -> None:
    from engine.rules.lang.expr import compile_expr
    from engine.rules.model import Escalation

    rule = dataclasses.replace(
        load(
            SPRAY.replace(
                "threshold: {count: 3, distinct: dbUserName, window: 10m, group_by: remoteHost}\n",
                "",
            )
        ),
        escalate=(
            Escalation(compile_expr("boom(@)"), "low"),
            Escalation(compile_expr("dbUserName == 'root'"), "critical"),
        ),
    )
    from jmespath import Options

    from tests.rules.runtime.test_engine import BoomFunctions

    eng = Engine(
        RuleSet([rule], options=Options(custom_functions=BoomFunctions())), MemoryStateStore()
    )
    assert [a.severity for a in eng.process([fail(0, user="root")]).alerts] == ["critical"]
    assert [a.severity for a in eng.process([fail(1, user="app")]).alerts] == ["high"]


@pytest.mark.parametrize(
    "text",
    [
        SEQ.replace('by: "[das.clusterId || das.instanceId, remoteHost]"', 'by: "boom(@)"'),
        FIRST_SEEN.replace('key: "[dbUserName, remoteHost]"', 'key: "boom(@)"'),
        SPRAY.replace("distinct: dbUserName", "distinct: boom(@)"),
    ],
)
def test_a_key_that_raises_is_a_rule_error_alert_not_a_crash(text: str) -> None:
    from engine.rules.lang.expr import compile_expr

    rule = load(text.replace("boom(@)", "lower(dbUserName)"))
    broken = compile_expr("boom(@)")
    if rule.sequence:
        rule = dataclasses.replace(rule, sequence=dataclasses.replace(rule.sequence, by=broken))
    elif rule.first_seen:
        rule = dataclasses.replace(
            rule, first_seen=dataclasses.replace(rule.first_seen, key=broken)
        )
    else:
        assert rule.threshold is not None
        rule = dataclasses.replace(
            rule, threshold=dataclasses.replace(rule.threshold, distinct=broken)
        )
    from jmespath import Options

    from tests.rules.runtime.test_engine import BoomFunctions

    eng = Engine(
        RuleSet([rule], options=Options(custom_functions=BoomFunctions())), MemoryStateStore()
    )
    res = eng.process([fail(0), ok(1)])
    assert res.rule_errors >= 1
    assert [a.kind for a in res.alerts] == ["rule_error"]


def _oracle_first(events: list[tuple[int, int]], need: int, within: int) -> bool:
    """Is there a completing event with `need` failures strictly before it, all within `within`?"""
    for j, (t, step) in enumerate(events):
        if step == 1:
            before = [u for u, s in events[:j] if s == 0 and t - u <= within]
            if len(before) >= need:
                return True
    return False


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(0, 1), min_size=1, max_size=25),
    gaps=st.lists(st.integers(1, 200), min_size=25, max_size=25),
    cuts=st.sets(st.integers(1, 24), max_size=4),
)
def test_sequence_matches_an_oracle_however_the_stream_is_batched(
    steps: list[int], gaps: list[int], cuts: set[int]
) -> None:
    times = [sum(gaps[: i + 1]) for i in range(len(steps))]
    stream = list(zip(times, steps, strict=True))
    events = [fail(t) if s == 0 else ok(t) for t, s in stream]
    whole = engine(SEQ).process(events).alerts
    assert bool(whole) == _oracle_first(stream, 3, 600)
    state = MemoryStateStore()
    bounds = [0, *sorted(c for c in cuts if c < len(events)), len(events)]
    split = [
        a
        for lo, hi in itertools.pairwise(bounds)
        for a in engine(SEQ, state).process(events[lo:hi]).alerts  # a cold start per batch
    ]
    assert [a.id for a in split] == [a.id for a in whole]


def test_successes_from_hosts_that_never_failed_read_no_key_state() -> None:
    class Reads(MemoryStateStore):
        def __init__(self) -> None:
            super().__init__()
            self.namespaces = 0

        def read_namespace(self, namespace: str) -> dict[str, float]:
            self.namespaces += 1
            return super().read_namespace(namespace)

    state = Reads()
    engine(SEQ, state).process([ok(i, host=f"10.0.3.{i}") for i in range(50)])
    assert state.namespaces == 0  # one batched read of the heads, no per-key read
    engine(SEQ, state).process([fail(100, "10.0.3.7"), ok(101, "10.0.3.7"), ok(102, "10.0.3.8")])
    assert state.namespaces == 1  # only the host with a failure on record
