"""Dedup windows fold what they hide, and say when an open window grows (escalation).

Each test runs batches through the real Engine over one StateStore; a "cold start" is a new
Engine (and, on DynamoDB, a new store object over the same table).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from engine.pipeline.state import MemoryStateStore, StateStore, StateUnavailable
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup, Escalation
from engine.rules.runtime.suppress import FOLD_SHOWN, count_mark
from tests.rules.runtime.test_engine import T0, engine_for, ev, rule

_ids = itertools.count(1)


def stmt(verb: str = "CREATE TABLE", obj: str | None = "tmp1", at: float = 1, **fields: Any):
    """A DDL event of user ``app`` at ``T0 + at`` (each one distinct: a new statement id)."""
    e = ev("DDL", T0 + at, statementId=next(_ids), **fields)
    e["das"].update(verb=verb, object=obj)
    return e


def ddl_rule(**kw: Any):
    return rule(
        "ddl",
        "das.action == 'DDL'",
        dedup=Dedup(compile_expr("dbUserName"), 3600),
        **kw,
    )


def run(state: StateStore, *batches: list[dict], r=None) -> list[Any]:
    """One alert per batch (or None), each batch through a new Engine (a cold start)."""
    out = []
    for batch in batches:
        alerts = engine_for(r or ddl_rule(), state=state).process(batch).alerts
        assert len(alerts) <= 1
        out.append(alerts[0] if alerts else None)
    return out


def test_the_alert_folds_distinct_values_in_first_seen_order_with_a_cap() -> None:
    batch = [stmt("CREATE TABLE", f"t{i}", at=i, remoteHost=f"10.0.0.{i % 2}") for i in range(8)]
    (alert,) = run(MemoryStateStore(), batch)
    folded = alert.context["folded"]
    assert folded["verbs"] == ["CREATE TABLE"]
    assert folded["objects"] == ["t0", "t1", "t2", "t3", "t4"] and FOLD_SHOWN == 5
    assert folded["more"] == {"objects": 3}
    assert folded["users"] == ["app"] and folded["hosts"] == ["10.0.0.0", "10.0.0.1"]
    assert "escalation" not in alert.context


def test_a_new_verb_in_a_later_batch_is_an_escalation_with_steps() -> None:
    state = MemoryStateStore()
    opened, plain, drop, alter = run(
        state,
        [stmt("CREATE TEMP TABLE", "tmp1", at=1)],
        [stmt("CREATE TEMP TABLE", "tmp1", at=2)],
        [stmt("DROP TABLE", "public.audit_log", at=3)],
        [stmt("ALTER TABLE", "public.audit_log", at=4)],
    )
    assert "escalation" not in opened.context
    assert plain.context["update"] is True and "escalation" not in plain.context
    assert plain.count == 2
    assert drop.id == opened.id and drop.count == 3
    assert drop.context["escalation"] == {
        "step": 1,
        "reasons": ["new verb: DROP TABLE", "new object: public.audit_log"],
        "previous_severity": "high",
    }
    assert drop.context["folded"]["verbs"] == ["CREATE TEMP TABLE", "DROP TABLE"]
    assert drop.first_seen == opened.first_seen  # the window's first event, not the batch's
    assert alter.context["escalation"]["step"] == 2
    assert alter.context["escalation"]["reasons"] == ["new verb: ALTER TABLE"]


def test_new_users_and_hosts_escalate_only_within_the_shown_values() -> None:
    r = rule("ddl", "das.action == 'DDL'", dedup=Dedup(compile_expr("das.clusterId"), 3600))
    state = MemoryStateStore()
    batches = [[stmt("CREATE TABLE", "t", at=i, dbUserName=f"u{i}")] for i in range(7)]
    alerts = run(state, *batches, r=r)
    reasons = [a.context.get("escalation", {}).get("reasons") for a in alerts]
    new_users = [[f"new user: u{i}"] for i in range(1, 5)]
    assert reasons == [None, *new_users, None, None]  # the sixth and seventh: "+2 more"
    assert alerts[-1].context["folded"]["more"] == {"users": 2}


def test_the_count_marks_page_exactly_once_each() -> None:
    state = MemoryStateStore()
    sizes = [1, 8, 1, 5, 85, 1, 1000, 3]  # totals 1, 9, 10, 15, 100, 101, 1101, 1104
    at = itertools.count(1)
    batches = [[stmt(at=next(at) / 10) for _ in range(n)] for n in sizes]
    alerts = run(state, *batches)
    got = [
        (a.count, a.context["escalation"]["reasons"] if "escalation" in a.context else None)
        for a in alerts
    ]
    assert got == [
        (1, None),
        (9, None),
        (10, ["count passed 10"]),
        (15, None),
        (100, ["count passed 100"]),
        (101, None),
        (1101, ["count passed 1,000"]),
        (1104, None),
    ]
    assert [a.context["escalation"]["step"] for a in alerts if "escalation" in a.context] == [
        1,
        2,
        3,
    ]
    assert [count_mark(n) for n in (9, 10, 999, 1000)] == [0, 1, 2, 3]


def test_a_higher_escalated_severity_is_an_escalation_and_the_window_keeps_it() -> None:
    r = ddl_rule(
        severity="medium",
        escalate=(Escalation(compile_expr("das.object == 'public.audit_log'"), "critical"),),
    )
    state = MemoryStateStore()
    opened, worse, after = run(
        state,
        [stmt("DROP TABLE", "tmp1", at=1)],
        [stmt("DROP TABLE", "public.audit_log", at=2)],
        [stmt("DROP TABLE", "tmp1", at=3)],
        r=r,
    )
    assert opened.severity == "medium"
    assert worse.severity == "critical"
    assert worse.context["escalation"]["reasons"] == [
        "new object: public.audit_log",
        "severity medium → critical",
    ]
    assert worse.context["escalation"]["previous_severity"] == "medium"
    # a later harmless statement does not lower the alert (its representative is harmless)
    assert after.severity == "critical" and "escalation" not in after.context


def test_a_redelivered_batch_repeats_the_same_step_and_never_a_new_one() -> None:
    state = MemoryStateStore()
    first = [stmt("CREATE TEMP TABLE", at=1)]
    second = [stmt("DROP TABLE", "public.audit_log", at=2)]
    _, esc, again, third = run(state, first, second, second, [stmt("DROP TABLE", "x", at=3)])
    assert esc.context["escalation"]["step"] == 1
    assert again.context["replay"] is True and again.count == 2
    assert again.context["escalation"] == esc.context["escalation"]
    assert third.context["escalation"]["step"] == 2  # a new object: the next step, not 1 again


class FailOnce(MemoryStateStore):
    """A store whose batched member write fails once (DynamoDB throttling half-way)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def put_members(self, members) -> None:
        if self.fail:
            self.fail = False
            raise StateUnavailable("throttled")
        super().put_members(members)


def test_a_batch_that_dies_before_announcing_announces_on_redelivery() -> None:
    state = FailOnce()
    second = [stmt("DROP TABLE", "public.audit_log", at=2)]
    run(state, [stmt("CREATE TEMP TABLE", at=1)])
    state.fail = True
    with pytest.raises(StateUnavailable):
        run(state, second)
    (again,) = run(state, second)  # Kinesis redelivers the batch
    assert again.context["escalation"]["step"] == 1
    assert again.context["escalation"]["reasons"][0] == "new verb: DROP TABLE"


def test_folded_values_come_from_the_redacted_event() -> None:
    # redaction makes a lone surrogate (which no output can encode) U+FFFD
    (alert,) = run(MemoryStateStore(), [stmt(at=1, dbUserName="app\ud800")])
    assert alert.context["folded"]["users"] == ["app\ufffd"]


def test_untimed_matches_fold_within_their_batch() -> None:
    batch = [stmt("CREATE TABLE", "a"), stmt("DROP TABLE", "b")]
    for e in batch:
        e["das"]["epoch"] = None
    (alert,) = run(MemoryStateStore(), batch)
    assert alert.context["folded"]["verbs"] == ["CREATE TABLE", "DROP TABLE"]


def test_cold_start_on_dynamodb_continues_the_window(aws: str) -> None:
    import boto3

    from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table

    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, "esc-state")
    batches = [
        [stmt("CREATE TEMP TABLE", "tmp1", at=1), stmt("CREATE TEMP TABLE", "tmp2", at=1.5)],
        [stmt("CREATE TEMP TABLE", "tmp1", at=2)],
        [stmt("DROP TABLE", "public.audit_log", at=3)],
    ]
    alerts = []
    for batch in batches:  # a fresh store object per batch: nothing survives in memory
        store = DynamoDBStateStore("esc-state", boto3.client("dynamodb", region_name="us-east-1"))
        (alert,) = run(store, batch)
        alerts.append(alert)
    opened, plain, drop = alerts
    assert "escalation" not in plain.context
    assert drop.context["escalation"]["step"] == 1
    assert drop.context["folded"]["objects"] == ["tmp1", "tmp2", "public.audit_log"]
    assert drop.first_seen == opened.first_seen and drop.count == 4


class Counting(MemoryStateStore):
    """The in-memory store, counting the calls a batch makes (each is a round trip on DynamoDB)."""

    OPS = frozenset(
        {"add_once", "add_once_many", "add_once_each", "incr", "incr_many", "get_counts"}
        | {"record_max", "read_namespace", "read_namespaces", "put_members", "put_values"}
        | {"get_values", "put_if_absent", "list_mutes"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __getattribute__(self, name: str):
        if name in Counting.OPS:
            object.__getattribute__(self, "calls").append(name)
        return super().__getattribute__(name)


def test_state_work_is_per_batch_not_per_event() -> None:
    def update_calls(n: int) -> list[str]:
        state = Counting()
        run(state, [stmt("CREATE TABLE", "t0", at=0)])
        state.calls.clear()
        batch = [stmt("CREATE TABLE", f"t{i % 3}", at=1 + i / 1000) for i in range(n)]
        run(state, batch)
        return sorted(state.calls)

    assert update_calls(10) == update_calls(500)
    assert update_calls(500).count("put_members") == 1  # the new objects, in one write
    # a window that grows without news: mark the hits, count them, read the window (+ mutes)
    state = Counting()
    run(state, [stmt("CREATE TABLE", f"t{i % 3}", at=i / 1000) for i in range(150)])
    state.calls.clear()
    run(state, [stmt("CREATE TABLE", f"t{i % 3}", at=2 + i / 1000) for i in range(300)])
    # (the in-memory ``incr_many`` and ``read_namespaces`` are one ``incr``/``read_namespace`` each)
    assert sorted(state.calls) == [
        "add_once_each",
        "incr",
        "incr_many",
        "list_mutes",
        "read_namespace",
        "read_namespaces",
    ]


def test_an_escalation_shows_the_statement_that_made_it_one() -> None:
    state = MemoryStateStore()
    r = ddl_rule(
        severity="medium",
        escalate=(Escalation(compile_expr("das.object == 'public.audit_log'"), "critical"),),
    )
    later_harmless = [
        stmt("DROP TABLE", "public.audit_log", at=2),
        stmt("CREATE TABLE", "tmp1", at=3),
        stmt("CREATE INDEX", "tmp1", at=4),
    ]
    _, esc = run(state, [stmt("CREATE TABLE", "tmp1", at=1)], later_harmless, r=r)
    assert esc.das["verb"] == "DROP TABLE" and esc.severity == "critical"
    _, esc2 = run(
        MemoryStateStore(),
        [stmt("CREATE TABLE", "t", at=1)],
        [stmt("DROP TABLE", "t", at=2), stmt("CREATE TABLE", "t", at=3)],
    )
    assert esc2.context["escalation"]["reasons"] == ["new verb: DROP TABLE"]
    assert esc2.das["verb"] == "DROP TABLE"  # not the harmless statement after it
