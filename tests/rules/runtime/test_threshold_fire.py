"""The threshold's pure firing step, property-tested apart from the store.

``threshold_decisions`` gets counts per sub-bucket and a batch's hits in event order and says
which events fire. The properties below are what suppression promises: never fire below the
count, fire once per window, fire as soon as the count is reached, and a replayed batch fires
nothing new (it only re-sends what fired).
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pipeline.state import MemoryStateStore
from engine.rules.runtime.suppress import Hit
from engine.rules.runtime.threshold import (
    BucketShape,
    Counted,
    Decision,
    Outcome,
    ThresholdCounter,
    threshold_decisions,
    threshold_shape,
)

WINDOWS = st.sampled_from([1, 5, 10, 60, 95, 300])


@st.composite
def batches(draw: st.DrawFn, fresh_only: bool = False) -> tuple[BucketShape, list[Counted]]:
    shape = threshold_shape(draw(WINDOWS))
    epochs = sorted(draw(st.lists(st.floats(0, 900, allow_nan=False), max_size=40)))
    fresh = (
        [True] * len(epochs)
        if fresh_only
        else draw(st.lists(st.booleans(), min_size=len(epochs), max_size=len(epochs)))
    )
    return shape, [Counted(shape.bucket_of(t), t, f) for t, f in zip(epochs, fresh, strict=True)]


def priors(shape_and_batch: tuple[BucketShape, list[Counted]]) -> st.SearchStrategy:
    shape, batch = shape_and_batch
    if not batch:
        return st.tuples(st.just({}), st.just(set()))
    lo = batch[0].bucket - shape.buckets + 1
    hi = batch[-1].bucket
    keys = st.integers(lo, hi)
    return st.tuples(
        st.dictionaries(keys, st.integers(0, 4), max_size=6),
        st.sets(keys, max_size=2),
    )


cases = batches().flatmap(lambda sb: st.tuples(st.just(sb), priors(sb)))
thresholds = st.integers(1, 12)


def expected_totals(batch: list[Counted], prior: dict[int, int], shape: BucketShape) -> list[int]:
    """The count at each event, recomputed the slow way: prior + new events so far."""
    out = []
    for i, place in enumerate(batch):
        span = set(shape.span(place.bucket))
        new = sum(1 for p in batch[: i + 1] if p.fresh and p.bucket in span)
        out.append(sum(prior.get(k, 0) for k in span) + new)
    return out


def fires(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.outcome is Outcome.FIRE]


@settings(max_examples=150, deadline=None)
@given(cases, thresholds)
def test_one_decision_per_event_with_the_window_count(case, threshold: int) -> None:
    (shape, batch), (prior, fired) = case
    decisions = threshold_decisions(batch, prior, fired, threshold=threshold, shape=shape)
    assert [d.index for d in decisions] == list(range(len(batch)))
    assert [d.total for d in decisions] == expected_totals(batch, prior, shape)


@settings(max_examples=150, deadline=None)
@given(cases, thresholds)
def test_never_fires_below_the_count(case, threshold: int) -> None:
    (shape, batch), (prior, fired) = case
    decisions = threshold_decisions(batch, prior, fired, threshold=threshold, shape=shape)
    for d in decisions:
        assert (d.outcome is Outcome.BELOW) == (d.total < threshold)
        if d.outcome is Outcome.FIRE:
            assert d.bucket == batch[d.index].bucket


@settings(max_examples=150, deadline=None)
@given(cases, thresholds)
def test_fires_at_most_once_per_window(case, threshold: int) -> None:
    (shape, batch), (prior, fired) = case
    decisions = threshold_decisions(batch, prior, fired, threshold=threshold, shape=shape)
    marks = sorted(set(fired) | {d.bucket for d in fires(decisions)})
    new = [d.bucket for d in fires(decisions)]
    assert len(new) == len(set(new))
    for bucket in new:  # no other fire mark (old or new) inside the window ending here
        assert [k for k in marks if k in shape.span(bucket)] == [bucket]


@settings(max_examples=150, deadline=None)
@given(cases, thresholds)
def test_fires_as_soon_as_the_count_is_reached(case, threshold: int) -> None:
    """Every event at or over the count has a fired sub-bucket in its window, made no later
    than by itself; the first such event of a window with no mark is the one that fires."""
    (shape, batch), (prior, fired) = case
    decisions = threshold_decisions(batch, prior, fired, threshold=threshold, shape=shape)
    marks = set(fired)
    for d in decisions:
        span = shape.span(batch[d.index].bucket)
        if d.total >= threshold:
            unmarked = not any(k in marks for k in span)
            assert (d.outcome is Outcome.FIRE) == unmarked
            if d.outcome is Outcome.FIRE:
                marks.add(d.bucket)
            else:
                assert d.bucket in marks and d.bucket in span
                expected = Outcome.SUPPRESSED if batch[d.index].fresh else Outcome.REPLAY
                assert d.outcome is expected
        if d.outcome is Outcome.FIRE:
            assert d.first is not None
            assert span.start * shape.bucket_s <= d.first <= batch[d.index].epoch


@settings(max_examples=150, deadline=None)
@given(batches(fresh_only=True).flatmap(lambda sb: st.tuples(st.just(sb), priors(sb))), thresholds)
def test_a_replayed_batch_fires_nothing_new_and_resends_every_firing(case, threshold) -> None:
    (shape, batch), (prior, fired) = case
    first = threshold_decisions(batch, prior, fired, threshold=threshold, shape=shape)
    # after the first attempt the store holds its events and its fire marks
    stored = dict(prior)
    for place in batch:
        stored[place.bucket] = stored.get(place.bucket, 0) + 1
    marks = set(fired) | {d.bucket for d in fires(first)}
    again = [Counted(p.bucket, p.epoch, fresh=False) for p in batch]
    second = threshold_decisions(again, stored, marks, threshold=threshold, shape=shape)
    assert fires(second) == []
    assert not any(d.outcome is Outcome.SUPPRESSED for d in second)
    replayed = {d.bucket for d in second if d.outcome is Outcome.REPLAY}
    assert {d.bucket for d in fires(first)} <= replayed <= marks


@settings(max_examples=200, deadline=None)
@given(batches(fresh_only=True), thresholds, st.sets(st.integers(1, 39), max_size=6))
def test_cutting_a_stream_into_batches_never_changes_which_windows_fire(
    shape_and_batch, threshold: int, cuts: set[int]
) -> None:
    shape, stream = shape_and_batch
    whole = {
        d.bucket
        for d in fires(threshold_decisions(stream, {}, set(), threshold=threshold, shape=shape))
    }
    stored: dict[int, int] = {}
    marks: set[int] = set()
    edges = [0, *sorted(c for c in cuts if c < len(stream)), len(stream)]
    for lo, hi in itertools.pairwise(edges):
        part = stream[lo:hi]
        decided = threshold_decisions(part, stored, marks, threshold=threshold, shape=shape)
        marks |= {d.bucket for d in fires(decided)}
        for place in part:
            stored[place.bucket] = stored.get(place.bucket, 0) + 1
    assert marks == whole


@settings(max_examples=100, deadline=None)
@given(
    WINDOWS,
    thresholds,
    st.lists(st.tuples(st.integers(0, 600), st.sampled_from("ab")), max_size=30),
)
def test_the_counter_fires_what_the_pure_step_decides_and_replays_it(
    window_s: int, threshold: int, events: list[tuple[int, str]]
) -> None:
    """Counting step + firing step through a real store: once per window per group, and a
    redelivered batch re-sends exactly the alerts the first attempt fired (same ids)."""
    counter = ThresholdCounter(MemoryStateStore())
    hits = [
        (group, Hit({"t": t, "g": group, "n": i}, float(t), f"fp{i}"))
        for i, (t, group) in enumerate(events)
    ]

    def make_id(group: str, start: int) -> str:
        return f"{group}@{start}"

    fired, tally = counter.process("r", threshold, window_s, hits, make_id)
    assert not any(f.replay for f in fired)
    assert all(f.count >= threshold for f in fired)
    assert len({f.alert_id for f in fired}) == len(fired)
    assert tally.suppressed + tally.below_threshold + len(fired) == len(events)
    shape = threshold_shape(window_s)
    for group in "ab":
        batch = [
            Counted(shape.bucket_of(t), float(t), True) for t, g in sorted(events) if g == group
        ]
        pure = fires(threshold_decisions(batch, {}, set(), threshold=threshold, shape=shape))
        expected = {make_id(group, d.bucket * shape.bucket_s) for d in pure}
        assert {f.alert_id for f in fired if f.key == group} == expected
    again, tally2 = counter.process("r", threshold, window_s, hits, make_id)
    assert all(f.replay for f in again)
    assert {f.alert_id for f in again} == {f.alert_id for f in fired}
    assert tally2.duplicates == len(events)
