"""Which event an alert carries: the most recent matching one, however the events are batched.

``dasalert eval`` runs one ``Engine.process`` over a whole capture; ``run`` and the Lambda run one
per record; a redelivered or later batch sees only its own hits. The alert's event (and so its
title and SQL) must be the same in all of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.pipeline.state import MemoryStateStore
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup, Rule, Threshold
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from engine.rules.runtime.suppress import Hit, representative

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC).timestamp()


def ev(verb: str, epoch: float | None, user: str = "app") -> dict[str, Any]:
    return {
        "dbUserName": user,
        "das": {"engine": "postgres", "action": "DDL", "verb": verb, "epoch": epoch},
    }


def ddl_rule(**kw: Any) -> Rule:
    return Rule(
        id="ddl",
        title="DDL by {dbUserName}: {das.verb}",
        severity="high",
        when=compile_expr("das.action == 'DDL'"),
        **kw,
    )


def test_the_latest_hit_in_event_time_wins_ties_go_to_the_later_one() -> None:
    a, b, c = (Hit(ev(v, t), t, v) for v, t in (("A", T0 + 5), ("B", T0 + 9), ("C", T0 + 9)))
    assert representative([a, b, c]) is c
    assert representative([b, a]) is b  # out of order input: still the latest time
    untimed = Hit(ev("U", None), None, "u")
    assert representative([untimed, a]) is a
    assert representative([a, untimed]) is a


def test_dedup_alert_has_the_same_event_in_one_call_and_one_call_per_event() -> None:
    rule = ddl_rule(dedup=Dedup(compile_expr("dbUserName"), 3600))
    events = [ev("CREATE TABLE", T0 + 1), ev("DROP TABLE", T0 + 30)]

    whole = Engine(RuleSet([rule]), MemoryStateStore()).process(events).alerts
    per_event = Engine(RuleSet([rule]), MemoryStateStore())
    emitted = [a for e in events for a in per_event.process([e]).alerts]

    assert [a.title for a in whole] == ["DDL by app: DROP TABLE"]
    last = emitted[-1]  # the update the pipeline keeps for this id
    assert (last.id, last.title, last.count) == (whole[0].id, whole[0].title, whole[0].count)
    assert (last.first_seen, last.last_seen) == (whole[0].first_seen, whole[0].last_seen)


def test_threshold_alert_carries_the_event_that_reached_the_count() -> None:
    rule = ddl_rule(threshold=Threshold(3, 300, compile_expr("dbUserName")))
    events = [ev(v, T0 + i) for i, v in enumerate(["CREATE TABLE", "ALTER TABLE", "DROP TABLE"])]
    [alert] = Engine(RuleSet([rule]), MemoryStateStore()).process(events).alerts
    assert alert.title == "DDL by app: DROP TABLE"


def test_threshold_first_seen_is_exact_when_earlier_batches_counted_the_events() -> None:
    rule = ddl_rule(threshold=Threshold(3, 300, compile_expr("dbUserName")))
    # 7 s apart: inside one 30 s sub-bucket the old answer was its start (T0), not T0 + 7
    events = [ev("CREATE TABLE", T0 + 7 + i) for i in range(3)]
    whole = Engine(RuleSet([rule]), MemoryStateStore()).process(events).alerts
    per_event = Engine(RuleSet([rule]), MemoryStateStore())
    emitted = [a for e in events for a in per_event.process([e]).alerts]
    assert [a.first_seen for a in emitted] == [a.first_seen for a in whole]
    assert whole[0].first_seen is not None and whole[0].first_seen.endswith(":07.000000Z")
