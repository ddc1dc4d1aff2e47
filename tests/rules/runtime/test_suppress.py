"""Dedup windows and thresholds in event time: windows, invocations, idempotency."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts.ids import alert_id
from engine.pipeline.state import MemoryStateStore
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup, Threshold
from engine.rules.runtime.suppress import key_json, window_start
from tests.rules.runtime.test_engine import T0, engine_for, ev, rule


def dedup_rule(window: int = 3600, key: str | None = "dbUserName"):
    return rule("d", "`true`", dedup=Dedup(compile_expr(key) if key else None, window))


def burst_rule(count: int = 3, window: int = 60, group_by: str | None = "remoteHost"):
    return rule(
        "burst",
        "das.action == 'LOGIN_FAILED'",
        threshold=Threshold(count, window, compile_expr(group_by) if group_by else None),
    )


def fail(t: float, host: str = "10.0.0.9", **kw) -> dict:
    return ev("LOGIN_FAILED", T0 + t, remoteHost=host, statementId=t, **kw)


# -- dedup ------------------------------------------------------------------------------------


def test_window_start_is_aligned_to_the_epoch() -> None:
    assert window_start(T0 + 3599.9, 3600) == int(T0)
    assert window_start(T0 + 3600, 3600) == int(T0) + 3600
    assert window_start(7.5, 5) == 5


def test_matches_in_one_window_aggregate_into_one_alert() -> None:
    batch = [
        ev(epoch=T0 + 5, statementId=1),
        ev(epoch=T0 + 900, statementId=2),
        ev(epoch=T0 + 100, statementId=3),
    ]
    result = engine_for(dedup_rule()).process(batch)
    (alert,) = result.alerts
    assert alert.count == 3
    assert alert.first_seen == "2026-03-02T10:00:05.000000Z"
    assert alert.last_seen == "2026-03-02T10:15:00.000000Z"
    assert alert.dedup_key == '"app"'
    assert alert.id == alert_id("d", '"app"', int(T0))
    assert result.matched == 3 and result.suppressed == 0


def test_keys_and_windows_separate_alerts() -> None:
    batch = [
        ev(epoch=T0 + 1, dbUserName="a"),
        ev(epoch=T0 + 2, dbUserName="b"),
        ev(epoch=T0 + 3601, dbUserName="a"),
    ]
    alerts = engine_for(dedup_rule()).process(batch).alerts
    assert [(a.dedup_key, a.count) for a in alerts] == [('"a"', 1), ('"b"', 1), ('"a"', 1)]
    assert len({a.id for a in alerts}) == 3
    assert alerts[2].id == alert_id("d", '"a"', int(T0) + 3600)


def test_no_key_means_one_alert_per_rule_per_window() -> None:
    batch = [ev(epoch=T0 + i, dbUserName=f"u{i}") for i in range(5)]
    (alert,) = engine_for(dedup_rule(key=None)).process(batch).alerts
    assert alert.count == 5 and alert.dedup_key is None


def test_dedup_continues_across_invocations_through_the_store() -> None:
    state = MemoryStateStore()
    first = engine_for(dedup_rule(), state=state).process([ev(epoch=T0 + 1, statementId=1)])
    assert len(first.alerts) == 1
    # a second Lambda invocation (new Engine, same table), same window: no new alert, but the
    # same one (same id) with the window's count and first seen, for outputs updating in place
    second = engine_for(dedup_rule(), state=state).process(
        [ev(epoch=T0 + 2, statementId=2), ev(epoch=T0 + 3, statementId=3)]
    )
    assert second.suppressed == 2 and second.matched == 2
    aid = first.alerts[0].id
    (update,) = second.alerts
    assert (update.id, update.count, update.context["update"]) == (aid, 3, True)
    assert "escalation" not in update.context  # same verb, user and host: a plain update
    assert update.first_seen == first.alerts[0].first_seen  # the window's, not the batch's
    assert update.last_seen == "2026-03-02T10:00:03.000000Z"
    assert state.get_counts([f"dd:{aid}"]) == {f"dd:{aid}": 3}
    # the next window alerts again
    third = engine_for(dedup_rule(), state=state).process([ev(epoch=T0 + 3600, statementId=4)])
    assert len(third.alerts) == 1 and third.alerts[0].id != aid


def test_reprocessing_a_batch_resends_the_same_alert_without_inflating_counts() -> None:
    state = MemoryStateStore()
    batch = [ev(epoch=T0 + i, statementId=i) for i in range(4)]
    first = engine_for(dedup_rule(), state=state).process(batch)
    again = engine_for(dedup_rule(), state=state).process(batch)  # Kinesis redelivery
    assert [(a.id, a.count) for a in again.alerts] == [(first.alerts[0].id, 4)]
    assert again.alerts[0].context.get("replay") is True
    assert again.duplicates == 4
    aid = first.alerts[0].id
    assert state.get_counts([f"dd:{aid}"])[f"dd:{aid}"] == 4
    # a later batch updates the window's alert; its redelivery re-sends it (same id, same
    # count: the outputs skip what they already took) and counts nothing
    later = [ev(epoch=T0 + 100, statementId=100)]
    updated = engine_for(dedup_rule(), state=state).process(later).alerts
    assert [(a.id, a.count) for a in updated] == [(aid, 5)]
    redelivered = engine_for(dedup_rule(), state=state).process(later)
    assert [(a.id, a.count) for a in redelivered.alerts] == [(aid, 5)]
    assert redelivered.duplicates == 1
    assert state.get_counts([f"dd:{aid}"])[f"dd:{aid}"] == 5


def test_a_redelivered_batch_with_new_events_resends_with_the_new_total() -> None:
    state = MemoryStateStore()
    batch = [ev(epoch=T0 + 1, statementId=1)]
    first = engine_for(dedup_rule(), state=state).process(batch)
    mixed = engine_for(dedup_rule(), state=state).process([*batch, ev(epoch=T0 + 2, statementId=2)])
    assert [(a.id, a.count) for a in mixed.alerts] == [(first.alerts[0].id, 2)]


# -- thresholds -------------------------------------------------------------------------------


def test_threshold_fires_when_the_count_is_reached_once_per_window() -> None:
    result = engine_for(burst_rule()).process([fail(t) for t in (1, 2, 3, 4, 5, 6)])
    (alert,) = result.alerts
    assert alert.count == 3 and alert.dedup_key == '"10.0.0.9"'
    assert alert.first_seen == "2026-03-02T10:00:01.000000Z"
    assert alert.last_seen == "2026-03-02T10:00:03.000000Z"
    assert alert.context["threshold"] == 3 and alert.context["window_s"] == 60
    assert result.below_threshold == 2 and result.suppressed == 3


def test_threshold_below_count_never_fires() -> None:
    result = engine_for(burst_rule()).process([fail(1), fail(2)])
    assert result.alerts == [] and result.below_threshold == 2


def test_threshold_groups_count_separately() -> None:
    batch = [fail(1, "10.0.0.1"), fail(2, "10.0.0.2"), fail(3, "10.0.0.1"), fail(4, "10.0.0.2")]
    result = engine_for(burst_rule(count=2)).process(batch)
    assert sorted(a.dedup_key for a in result.alerts) == ['"10.0.0.1"', '"10.0.0.2"']


def test_threshold_slides_across_a_window_boundary() -> None:
    # 55 s, 58 s and 61 s: two tumbling windows, one sliding minute
    result = engine_for(burst_rule()).process([fail(55), fail(58), fail(61)])
    assert len(result.alerts) == 1
    # spread over more than the window: never three within a minute
    spread = engine_for(burst_rule()).process([fail(0), fail(40), fail(80), fail(120)])
    assert spread.alerts == []


def test_threshold_counts_across_two_invocations_sharing_a_store() -> None:
    state = MemoryStateStore()
    one = engine_for(burst_rule(), state=state).process([fail(10), fail(20)])
    two = engine_for(burst_rule(), state=state).process([fail(30)])
    assert one.alerts == [] and len(two.alerts) == 1 and two.alerts[0].count == 3
    # a third invocation in the same window: still one alert
    three = engine_for(burst_rule(), state=state).process([fail(40), fail(50)])
    assert three.alerts == [] and three.suppressed == 2
    # a fresh burst after the window fires again
    four = engine_for(burst_rule(), state=state).process([fail(200), fail(201), fail(202)])
    assert len(four.alerts) == 1 and four.alerts[0].id != two.alerts[0].id


def test_threshold_is_idempotent_on_redelivery() -> None:
    state = MemoryStateStore()
    batch = [fail(1), fail(2), fail(3)]
    first = engine_for(burst_rule(), state=state).process(batch)
    again = engine_for(burst_rule(), state=state).process(batch)
    assert [a.id for a in again.alerts] == [a.id for a in first.alerts]  # same alert, resent
    assert again.alerts[0].context["replay"] is True and again.duplicates == 3
    # counts were not inflated: two more events in the window do not make a second alert,
    # and a redelivery of a below-threshold batch does not reach the threshold
    fresh = MemoryStateStore()
    below = [fail(1), fail(2)]
    for _ in range(3):
        assert engine_for(burst_rule(), state=fresh).process(below).alerts == []


def test_threshold_orders_a_batch_by_event_time() -> None:
    result = engine_for(burst_rule()).process([fail(3), fail(1), fail(2)])
    (alert,) = result.alerts
    assert alert.last_seen == "2026-03-02T10:00:03.000000Z"


def test_group_key_is_json_of_the_group_value() -> None:
    r = burst_rule(count=1, group_by="[das.clusterId, remoteHost]")
    (alert,) = engine_for(r).process([fail(1)]).alerts
    assert alert.dedup_key == key_json(["cluster-A", "10.0.0.9"])


class CountingStore(MemoryStateStore):
    """The in-memory store, counting round trips (what DynamoDB would bill and wait for)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def incr(self, key, amount=1, *, expires_at):
        self._count("incr")
        return super().incr(key, amount, expires_at=expires_at)

    def get_counts(self, keys):
        self._count("get_counts")
        return super().get_counts(keys)

    def add_once(self, key, *, expires_at):
        self._count("add_once")
        return super().add_once(key, expires_at=expires_at)

    def add_once_many(self, keys, *, expires_at):
        self._count("add_once_many")
        return super().add_once_many(keys, expires_at=expires_at)


def test_a_burst_costs_a_few_calls_per_batch_not_one_per_event() -> None:
    """An attack is when the store is busiest: 200 failures must not mean 800 round trips."""
    state = CountingStore()
    result = engine_for(burst_rule(count=5), state=state).process(
        [fail(i * 0.25) for i in range(200)]  # 50 s: nine 6-second buckets
    )
    assert len(result.alerts) == 1
    assert "add_once" not in state.calls
    assert state.calls["add_once_many"] == 1  # every marker of the batch at once
    assert state.calls["incr"] == 9 + 1  # one per bucket and the fire marker
    assert state.calls["get_counts"] == 1  # counts and fire markers, one read


def test_a_redelivered_burst_is_counted_once() -> None:
    state = MemoryStateStore()
    batch = [fail(1), fail(2)]
    engine_for(burst_rule(), state=state).process(batch)
    engine_for(burst_rule(), state=state).process(batch)  # redelivered: +2 then -2
    assert engine_for(burst_rule(), state=state).process([fail(3)]).alerts[0].count == 3


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=25),
    cuts=st.sets(st.integers(min_value=1, max_value=24), max_size=6),
)
def test_batching_never_changes_what_fires(gaps: list[int], cuts: set[int]) -> None:
    """Any split of a time-ordered stream into batches fires exactly as one event per batch."""
    times, t = [], 0
    for gap in gaps:
        t += gap
        times.append(t)
    events = [fail(x) for x in times]
    one_by_one = MemoryStateStore()
    expected = [
        a.id
        for e in events
        for a in engine_for(burst_rule(count=3), state=one_by_one).process([e]).alerts
        if not a.context.get("replay")  # equal events are redeliveries: they re-send
    ]
    batched = MemoryStateStore()
    bounds = [0, *sorted(c for c in cuts if c < len(events)), len(events)]
    got = [
        a.id
        for lo, hi in itertools.pairwise(bounds)
        for a in engine_for(burst_rule(count=3), state=batched).process(events[lo:hi]).alerts
        if not a.context.get("replay")
    ]
    assert got == expected


class FlakyStore(MemoryStateStore):
    """A store that fails once, on the first ``incr`` of a key with ``prefix`` (a throttle)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def incr(self, key, amount=1, *, expires_at):
        if self.prefix and key.startswith(self.prefix):
            self.prefix = ""
            raise RuntimeError("ProvisionedThroughputExceededException")
        return super().incr(key, amount, expires_at=expires_at)


@pytest.mark.parametrize("fail_on", ["dd:"])
def test_a_crash_mid_window_never_loses_the_dedup_alert(fail_on: str) -> None:
    state = FlakyStore(fail_on)
    batch = [ev(epoch=T0 + i, statementId=i) for i in range(3)]
    with pytest.raises(RuntimeError):
        engine_for(dedup_rule(), state=state).process(batch)  # markers written, then the crash
    again = engine_for(dedup_rule(), state=state).process(batch)  # Kinesis redelivers
    assert [a.id for a in again.alerts] == [alert_id("d", '"app"', int(T0))]


@pytest.mark.parametrize("fail_on", ["tc:", "tf:"])
def test_a_crash_mid_threshold_never_loses_the_alert(fail_on: str) -> None:
    """Crash before anything is counted (tc:) or after counting, before firing (tf:)."""
    reference = engine_for(burst_rule(), state=MemoryStateStore()).process(
        [fail(t) for t in (1, 2, 3)]
    )
    state = FlakyStore(fail_on)
    batch = [fail(t) for t in (1, 2, 3)]
    with pytest.raises(RuntimeError):
        engine_for(burst_rule(), state=state).process(batch)
    again = engine_for(burst_rule(), state=state).process(batch)
    assert [a.id for a in again.alerts] == [a.id for a in reference.alerts]
    assert again.alerts[0].count == 3  # counted once
    third = engine_for(burst_rule(), state=state).process(batch)  # and again: same alert
    assert [a.id for a in third.alerts] == [a.id for a in reference.alerts]
    assert third.alerts[0].context["replay"] is True
