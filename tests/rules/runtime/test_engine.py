"""The RuleSet and the Engine: index, isolation, unless, truthiness, alerts, untimed events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jmespath
import pytest
from jmespath.functions import signature

from engine.alerts.ids import alert_id
from engine.pipeline.state import MemoryStateStore
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup, Exemption, Rule, Threshold
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.functions import DasFunctions
from engine.rules.runtime.ruleset import RuleSet, is_true

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC).timestamp()  # on a 1h boundary


def ev(action: str | None = "READ", epoch: float | None = T0, **fields: Any) -> dict[str, Any]:
    """A small normalized event (raw fields + ``das``)."""
    base = {"dbUserName": "app", "databaseName": "shop", "remoteHost": "10.0.0.9"}
    base.update(fields)
    base["das"] = {
        "engine": "postgres",
        "action": action,
        "epoch": epoch,
        "clusterId": "cluster-A",
        "instanceId": "db-A",
    }
    return base


def rule(rid: str, when: str, *, actions: set[str] | None = None, **kw: Any) -> Rule:
    return Rule(
        id=rid,
        title=kw.pop("title", f"{rid} by {{dbUserName}}"),
        severity=kw.pop("severity", "high"),
        when=compile_expr(when),
        actions=frozenset(actions) if actions is not None else None,
        **kw,
    )


class BoomFunctions(DasFunctions):
    """Our functions plus ``boom(x)``, which always raises: a stand-in for any rule bug.

    (Every shipped function is total, so a real rule rarely raises; the engine must still
    survive one that does.)
    """

    @signature({"types": []})
    def _func_boom(self, value: Any) -> Any:
        raise RuntimeError(f"boom on {value!r}")


BOOM = jmespath.Options(custom_functions=BoomFunctions())


def engine_for(*rules: Rule, lists=None, params=None, state=None, options=None) -> Engine:
    ruleset = RuleSet(rules, lists or {}, params or {}, options=options or BOOM)
    return Engine(ruleset, state or MemoryStateStore())


# -- the index --------------------------------------------------------------------------------


def test_index_keeps_rules_off_actions_they_cannot_match() -> None:
    everything = rule("always-ddl", "`true`", actions={"DDL"})
    anywhere = rule("any", "dbUserName == 'app'")
    rs = RuleSet([everything, anywhere], {}, {})
    assert rs.candidates(ev("READ")) == (anywhere,)
    assert rs.candidates(ev("DDL")) == (everything, anywhere)
    assert rs.candidates(ev(None)) == (anywhere,)
    assert [m.rule.id for m in rs.evaluate(ev("READ"))] == ["any"]
    assert [m.rule.id for m in rs.evaluate(ev("DDL"))] == ["always-ddl", "any"]


def test_index_gives_the_same_matches_as_evaluating_every_rule() -> None:
    """With actions derived correctly, the index changes cost, never results."""
    specs = [
        ("ddl", "das.action == 'DDL' && dbUserName != 'admin'", {"DDL"}),
        (
            "fail",
            "das.action == 'LOGIN_FAILED' || das.action == 'CONNECT'",
            {"LOGIN_FAILED", "CONNECT"},
        ),
        ("big", "das.action == 'READ' && rowCount > `10`", {"READ"}),
        ("user", "dbUserName == 'mallory'", None),
    ]
    indexed = RuleSet([rule(i, w, actions=a) for i, w, a in specs], {}, {})
    flat = RuleSet([rule(i, w) for i, w, _ in specs], {}, {})
    actions = ["DDL", "LOGIN_FAILED", "CONNECT", "READ", "WRITE", None, "OTHER"]
    for action in actions:
        for user in ("admin", "app", "mallory"):
            for rows in (None, 5, 50):
                event = ev(action, dbUserName=user, rowCount=rows)
                got = [m.rule.id for m in indexed.evaluate(event)]
                assert got == [m.rule.id for m in flat.evaluate(event)], (action, user, rows)


def test_unhashable_action_only_reaches_action_agnostic_rules() -> None:
    rs = RuleSet([rule("ddl", "`true`", actions={"DDL"}), rule("any", "`true`")], {}, {})
    assert [m.rule.id for m in rs.evaluate(ev(["DDL"]))] == ["any"]  # type: ignore[arg-type]


def test_duplicate_rule_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate rule ids: a"):
        RuleSet([rule("a", "`true`"), rule("a", "`false`")], {}, {})


# -- truthiness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (None, False),
        (False, False),
        ("", False),
        ([], False),
        ({}, False),
        (0, True),
        ("0", True),
        ([0], True),
        (True, True),
    ],
)
def test_jmespath_truthiness(value: Any, truth: bool) -> None:
    assert is_true(value) is truth
    rs = RuleSet([rule("r", "rowCount")], {}, {})
    assert bool(rs.evaluate(ev(rowCount=value))) is truth


# -- a rule that raises ------------------------------------------------------------------------


def test_a_raising_rule_never_stops_the_others() -> None:
    broken = rule("broken", "boom(dbUserName)")
    fine = rule("fine", "dbUserName == 'app'")
    result = engine_for(broken, fine).process([ev()])
    assert result.rule_errors == 1
    assert result.matched == 1
    kinds = {(a.rule_id, a.kind) for a in result.alerts}
    assert kinds == {("fine", "rule"), ("broken", "rule_error")}
    err = next(a for a in result.alerts if a.kind == "rule_error")
    assert err.context["error"] == "RuntimeError: boom on 'app'"
    assert err.title == "Rule broken failed to evaluate"
    assert result.errors and result.errors[0].startswith("broken: ")


def test_rule_errors_are_deduplicated_per_rule_per_hour() -> None:
    broken = rule("broken", "boom(dbUserName)")
    state = MemoryStateStore()
    eng = engine_for(broken, state=state)
    first = eng.process([ev(epoch=T0 + 1), ev(epoch=T0 + 60), ev(epoch=T0 + 3599)])
    assert first.rule_errors == 3
    assert [(a.kind, a.count) for a in first.alerts] == [("rule_error", 3)]
    # same hour, next invocation: the same alert (same id) with the new count, not a new one
    again = eng.process([ev(epoch=T0 + 1800, databaseName="other")])
    assert again.rule_errors == 1 and again.suppressed == 1
    assert [(a.id, a.count, a.context["update"]) for a in again.alerts] == [
        (first.alerts[0].id, 4, True)
    ]
    # next hour: a new alert with a new id
    later = eng.process([ev(epoch=T0 + 3600)])
    assert len(later.alerts) == 1 and later.alerts[0].id != first.alerts[0].id


def test_a_failing_dedup_key_is_a_rule_error_not_a_crash() -> None:
    r = rule("r", "`true`", dedup=Dedup(compile_expr("boom(dbUserName)"), 3600))
    result = engine_for(r, rule("other", "`true`")).process([ev()])
    assert result.rule_errors == 1 and result.matched == 1
    assert sorted(a.kind for a in result.alerts) == ["rule", "rule_error"]


# -- unless -----------------------------------------------------------------------------------


def test_unless_exempts_and_expires_by_event_date() -> None:
    r = rule(
        "ddl",
        "das.action == 'DDL'",
        unless=(
            Exemption(compile_expr("dbUserName == 'flyway'"), "migrations", dt.date(2026, 3, 2)),
            Exemption(compile_expr("dbUserName == 'liquibase'"), "forever"),
        ),
    )
    rs = RuleSet([r], {}, {})
    on_expiry = dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC).timestamp()
    after = dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.UTC).timestamp()
    assert rs.evaluate(ev("DDL", on_expiry, dbUserName="flyway")) == []
    assert len(rs.evaluate(ev("DDL", after, dbUserName="flyway"))) == 1  # expired
    assert rs.evaluate(ev("DDL", after, dbUserName="liquibase")) == []  # no expiry
    assert len(rs.evaluate(ev("DDL", after, dbUserName="app"))) == 1
    # without event time a dated exemption cannot be judged: alert rather than stay silent
    assert len(rs.evaluate(ev("DDL", None, dbUserName="flyway"))) == 1
    assert rs.evaluate(ev("DDL", None, dbUserName="liquibase")) == []


def test_a_raising_exemption_is_a_rule_error() -> None:
    r = rule("r", "`true`", unless=(Exemption(compile_expr("boom(dbUserName)"), "x"),))
    evaluation = RuleSet([r], {}, {}, options=BOOM).evaluate_all(ev())
    assert evaluation.matches == [] and evaluation.errors[0].rule is r


# -- functions and params ------------------------------------------------------------------


def test_rules_see_the_named_lists_and_params() -> None:
    r = rule(
        "big",
        "!in_list(dbUserName, 'admins') && rowCount > param('large_read_rows')",
        actions={"READ"},
    )
    rs = RuleSet([r], {"admins": ["dba"]}, {"large_read_rows": 100})
    assert len(rs.evaluate(ev(rowCount=101))) == 1
    assert rs.evaluate(ev(rowCount=100)) == []
    assert rs.evaluate(ev(rowCount=101, dbUserName="dba")) == []
    assert rs.evaluate(ev(rowCount="500")) == []  # a string never orders against a number


# -- alerts -----------------------------------------------------------------------------------


def test_alert_carries_rule_metadata_and_the_redacted_event() -> None:
    r = rule(
        "role",
        "das.action == 'ROLE'",
        title="Password change by {dbUserName}: {commandText}",
        severity="critical",
        tags=("attack.t1098",),
        runbook="https://wiki.example.com/rb",
        outputs=("slack",),
        description="why",
    )
    sql = "ALTER ROLE bob PASSWORD 'hunter2-very-secret'"
    result = engine_for(r).process([ev("ROLE", commandText=sql, paramList=["4111-1111"])])
    (alert,) = result.alerts
    assert alert.kind == "rule" and alert.rule_id == "role" and alert.severity == "critical"
    assert alert.tags == ("attack.t1098",) and alert.outputs == ("slack",)
    assert alert.runbook == "https://wiki.example.com/rb" and alert.description == "why"
    assert "hunter2" not in alert.title and "hunter2" not in str(alert.to_dict())
    assert "4111-1111" not in str(alert.to_dict())
    assert alert.title.startswith("Password change by app: ALTER ROLE bob PASSWORD")
    assert alert.count == 1
    assert alert.first_seen == alert.last_seen == "2026-03-02T10:00:00.000000Z"


def test_keep_params_keeps_bind_values() -> None:
    r = rule("r", "`true`")
    eng = Engine(RuleSet([r], {}, {}), MemoryStateStore(), keep_params=True)
    (alert,) = eng.process([ev(paramList=["42"])]).alerts
    assert alert.event["paramList"] == ["42"]


def test_without_dedup_every_matching_event_is_an_alert_with_a_stable_id() -> None:
    r = rule("r", "`true`")
    batch = [ev(epoch=T0 + i, statementId=i) for i in range(3)]
    first = engine_for(r).process(batch)
    assert len(first.alerts) == 3 and len({a.id for a in first.alerts}) == 3
    again = engine_for(r).process(batch)  # redelivery, even to a fresh container
    assert [a.id for a in again.alerts] == [a.id for a in first.alerts]


def test_dedup_alert_id_is_the_contract_id() -> None:
    r = rule("r", "`true`", dedup=Dedup(compile_expr("[das.clusterId, dbUserName]"), 3600))
    (alert,) = engine_for(r).process([ev(epoch=T0 + 10)]).alerts
    assert alert.dedup_key == '["cluster-A","app"]'
    assert alert.id == alert_id("r", '["cluster-A","app"]', int(T0))


# -- events without time ----------------------------------------------------------------------


def test_untimed_events_still_alert_but_cannot_count_towards_thresholds() -> None:
    dedup = rule("d", "`true`", dedup=Dedup(None, 3600))
    thr = rule("t", "`true`", threshold=Threshold(2, 60, None))
    result = engine_for(dedup, thr).process([ev(epoch=None, statementId=i) for i in range(3)])
    assert [(a.rule_id, a.count, a.first_seen) for a in result.alerts] == [("d", 3, None)]
    assert result.untimed == 3
    assert result.matched == 6


def test_an_item_that_is_not_an_event_is_reported_and_the_batch_goes_on() -> None:
    result = engine_for(rule("r", "`true`")).process([None, ev(), "x"])  # type: ignore[list-item]
    assert result.events == 3 and result.invalid == 2 and len(result.alerts) == 1
    assert result.errors == ["not an event: a NoneType (skipped)", "not an event: a str (skipped)"]
