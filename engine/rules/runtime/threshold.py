"""Count thresholds in event time: a sliding window of sub-buckets per group, fired once per window.

Split from ``engine.rules.runtime.suppress`` (which keeps the shared vocabulary — ``Hit``,
``Firing``, ``Tally`` — and the dedup windows) so the counting step and the pure
``threshold_decisions`` it feeds can change without touching dedup. The state key layout is
documented in ``suppress``'s module docstring: one table for every suppression key.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.pipeline.state import StateStore
from engine.rules.runtime.suppress import (
    DEFAULT_MARGIN_S,
    THRESHOLD_BUCKETS,
    Firing,
    Hit,
    Tally,
    group_digest,
)


def _timed(hit: Hit) -> float:
    """The event time of a hit that has one (untimed hits never reach a threshold window)."""
    if hit.epoch is None:
        raise ValueError("an untimed hit cannot be placed in a threshold window")
    return float(hit.epoch)


class ThresholdCounter:
    """Counts matches per group in a sliding window and fires when the count is reached."""

    def __init__(self, state: StateStore, *, margin_s: int = DEFAULT_MARGIN_S) -> None:
        self.state = state
        self.margin_s = margin_s

    def process(
        self,
        rule_id: str,
        count: int,
        window_s: int,
        hits: list[tuple[str, Hit]],
        make_id: Any,
    ) -> tuple[list[Firing], Tally]:
        """``hits`` are ``(group key, hit)`` pairs; ``make_id(group, window_start) -> id``.

        Settled per batch, for every group of the rule at once (``_count``): the store sees one
        update per touched counter, one batched write of the idempotency markers and of the
        sub-buckets' first times, and one batched read of the counts — whatever the number of
        events; the running count of each event is then computed here (``threshold_decisions``:
        what was stored before this batch + this batch's new events up to that one); last, each
        decided firing claims its fire marker (``_claim``), which is what makes one firing per
        window hold across shards. Duplicates (a redelivery) are already in the stored counts:
        they are not counted again, but they still re-check the threshold — so a firing that the
        dead attempt never made, or made and never delivered, happens now (same id).
        """
        tally = Tally()
        firings: list[Firing] = []
        groups: dict[str, list[Hit]] = {}
        for group, hit in hits:
            if hit.epoch is None:
                tally.untimed += 1
            else:
                groups.setdefault(group, []).append(hit)
        if not groups:
            return firings, tally
        shape = threshold_shape(window_s)
        prefixes = {group: f"{rule_id}:{group_digest(group)}" for group in groups}
        for group_hits in groups.values():
            group_hits.sort(key=_timed)  # event order, whatever the batch order
        counted, prior, fired = self._count(rule_id, prefixes, shape, window_s, groups)
        for group, group_hits in groups.items():
            decisions = threshold_decisions(
                counted[group], prior[group], fired[group], threshold=count, shape=shape
            )
            got, t = self._claim(
                prefixes[group],
                shape,
                window_s,
                count,
                group,
                group_hits,
                counted[group],
                decisions,
                make_id,
            )
            firings += got
            tally.add(t)
        return firings, tally

    def _expires(self, shape: BucketShape, window_s: int, bucket: int) -> int:
        return (bucket + 1) * shape.bucket_s + window_s + self.margin_s

    def _count(
        self,
        rule_id: str,
        prefixes: dict[str, str],
        shape: BucketShape,
        window_s: int,
        groups: dict[str, list[Hit]],
    ) -> tuple[dict[str, list[Counted]], dict[str, dict[int, int]], dict[str, set[int]]]:
        """The counting step: record the hits in the store and read back what others counted.

        Returns, per group, each hit placed in its sub-bucket (and whether it is new), the count
        per sub-bucket stored by *other* batches (and earlier attempts of this one) over the
        whole span the batch's windows cover, and the sub-buckets whose fire marker is set.
        """
        state = self.state

        def expires(bucket: int) -> int:
            return self._expires(shape, window_s, bucket)

        # Count first, then mark, then take back the duplicates: a crash at any point can
        # only leave a count too high (an alert a little early), never too low (a missed one).
        located = {g: [(shape.bucket_of(_timed(h)), h) for h in hs] for g, hs in groups.items()}
        every: dict[str, tuple[int, float]] = {}  # counter key -> (amount, expires)
        earliest: dict[tuple[str, int], float] = {}
        for group, placed in located.items():
            for bucket, hit in placed:
                key = f"tc:{prefixes[group]}:{bucket}"
                amount, _ = every.get(key, (0, 0))
                every[key] = (amount + 1, expires(bucket))
                t = _timed(hit)
                spot = (group, bucket)
                earliest[spot] = min(t, earliest.get(spot, t))
        state.add_counts(every)
        # each sub-bucket's earliest event, so that an alert's first seen is exact across
        # batches: one member per batch and sub-bucket, named by its value (rewriting it is
        # harmless, no condition needed); the firing reads the largest of ``-time``
        state.put_members(
            (f"tm:{prefixes[g]}:{k}", f"first@{t!r}", -t, expires(k))
            for (g, k), t in earliest.items()
        )
        fps = [hit.fp for placed in located.values() for _, hit in placed]
        latest_expiry = max(expires(k) for placed in located.values() for k, _ in placed)
        new = state.add_once_many([f"seen:{rule_id}:{fp}" for fp in fps], expires_at=latest_expiry)
        counted: dict[str, list[Counted]] = {}
        added: dict[str, dict[int, int]] = {}
        taken: dict[str, tuple[int, float]] = {}
        for group, placed in located.items():
            mine = counted[group] = []
            got = added[group] = {}
            for bucket, hit in placed:
                marker = f"seen:{rule_id}:{hit.fp}"
                fresh = marker in new
                new.discard(marker)  # the same event twice in one batch counts once
                mine.append(Counted(bucket, _timed(hit), fresh))
                if fresh:
                    got[bucket] = got.get(bucket, 0) + 1
                else:  # a redelivery: counted once, by its first attempt
                    key = f"tc:{prefixes[group]}:{bucket}"
                    amount, _ = taken.get(key, (0, 0))
                    taken[key] = (amount - 1, expires(bucket))
        if taken:
            state.add_counts(taken)
        spans = {}
        for group, mine in counted.items():
            buckets = [c.bucket for c in mine]
            spans[group] = range(min(buckets) - shape.buckets + 1, max(buckets) + 1)
        stored = state.get_counts(
            [
                f"{kind}:{prefixes[g]}:{k}"
                for g, span in spans.items()
                for kind in ("tc", "tf")
                for k in span
            ]
        )
        prior: dict[str, dict[int, int]] = {}
        fired: dict[str, set[int]] = {}
        for group, span in spans.items():
            p, got = prefixes[group], added[group]
            # what other batches (and earlier attempts of this one) counted
            prior[group] = {k: max(0, stored[f"tc:{p}:{k}"] - got.get(k, 0)) for k in span}
            fired[group] = {k for k in span if stored[f"tf:{p}:{k}"]}
        return counted, prior, fired

    def _claim(
        self,
        prefix: str,
        shape: BucketShape,
        window_s: int,
        count: int,
        group: str,
        hits: list[Hit],
        counted: list[Counted],
        decisions: list[Decision],
        make_id: Any,
    ) -> tuple[list[Firing], Tally]:
        """Turn the decisions into firings: each new firing claims its window's fire marker.

        The claim is an atomic ``incr``: when another shard fired the same window first, this
        one only counts the event as suppressed. A replay is sent once per alert id.
        """
        tally = Tally()
        firings: list[Firing] = []
        context = {"threshold": count, "window_s": window_s, "group": group}
        emitted: set[str] = set()
        for decision in decisions:
            place = counted[decision.index]
            hit = hits[decision.index]
            if not place.fresh:
                tally.duplicates += 1  # already in the stored counts: never counted twice
            outcome = decision.outcome
            if outcome is Outcome.BELOW:
                if place.fresh:
                    tally.below_threshold += 1
                continue
            if outcome is Outcome.SUPPRESSED:
                tally.suppressed += 1
                continue
            start = decision.bucket * shape.bucket_s
            if outcome is Outcome.REPLAY:
                # a redelivered event inside a window that fired: re-send that alert (same id)
                if make_id(group, start) not in emitted:
                    firing = self._fire(
                        make_id, group, start, hit, decision.total, place.epoch, None
                    )
                    firing.replay = True
                    firing.context.update(context)
                    firings.append(firing)
                    emitted.add(firing.alert_id)
                continue
            expires = self._expires(shape, window_s, decision.bucket)
            if self.state.incr(f"tf:{prefix}:{decision.bucket}", 1, expires_at=expires) != 1:
                tally.suppressed += 1  # another shard fired first
                continue
            # (a duplicate can fire here too: the attempt that counted it died before firing)
            first = self._first_seen(prefix, shape, decision.bucket, decision.first)
            firing = self._fire(make_id, group, start, hit, decision.total, place.epoch, first)
            firing.context.update(context)
            firings.append(firing)
            emitted.add(firing.alert_id)
        return firings, tally

    def _first_seen(
        self, prefix: str, shape: BucketShape, bucket: int, first: float | None
    ) -> float | None:
        """The earliest event of the firing window, read from the per-sub-bucket minima.

        The firing step alone knows only this batch's events; when earlier batches counted some
        (the Lambda and ``dasalert run`` process one record at a time) it can only say "the
        start of the oldest sub-bucket". Reading the stored minima (at most one read per
        sub-bucket, and only when a threshold fires) gives every path the same exact time.
        """
        pages = self.state.read_namespaces([f"tm:{prefix}:{k}" for k in shape.span(bucket)])
        # ``first`` (one per sub-bucket, older releases) and ``first@<time>`` (one per batch)
        stored = [-max(page.values()) for page in pages.values() if page]
        if not stored:
            return first
        return min(stored) if first is None else max(min(stored), first)

    @staticmethod
    def _fire(
        make_id: Any,
        group: str,
        start: int,
        hit: Hit,
        total: int,
        last: float,
        first: float | None,
    ) -> Firing:
        return Firing(
            alert_id=make_id(group, start),
            key=group,
            event=hit.event,
            count=total,
            first=first,
            last=last,
        )


# -- the threshold's pure firing step -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketShape:
    """How a threshold window is cut: ``buckets`` sub-buckets of ``bucket_s`` seconds."""

    bucket_s: int
    buckets: int

    def bucket_of(self, epoch: float) -> int:
        return int(epoch // self.bucket_s)

    def span(self, bucket: int) -> range:
        """The sub-buckets of the window that ends with ``bucket``."""
        return range(bucket - self.buckets + 1, bucket + 1)


def threshold_shape(window_s: int) -> BucketShape:
    """Sub-buckets of ``window / THRESHOLD_BUCKETS`` (at least 1 s) covering the window."""
    bucket_s = max(1, window_s // THRESHOLD_BUCKETS)
    return BucketShape(bucket_s, max(1, math.ceil(window_s / bucket_s)))


@dataclass(frozen=True, slots=True)
class Counted:
    """One hit after the counting step: its sub-bucket, event time, and whether it is new."""

    bucket: int
    epoch: float
    fresh: bool  # False: a redelivery, already in the stored counts


class Outcome(enum.Enum):
    """What the firing step decided for one event."""

    BELOW = "below"  # the window's count is under the threshold
    SUPPRESSED = "suppressed"  # a new event in a window that already fired
    REPLAY = "replay"  # a redelivered event in a window that fired: send that alert again
    FIRE = "fire"  # the count reached the threshold in a window that had not fired


@dataclass(frozen=True, slots=True)
class Decision:
    """The firing step's answer for the event at ``index`` (one per event, in order)."""

    outcome: Outcome
    index: int
    total: int  # the window's count at this event
    bucket: int  # FIRE: the event's sub-bucket; REPLAY: the sub-bucket that fired
    first: float | None = None  # FIRE: first seen of the window's events


def threshold_decisions(
    counted: Sequence[Counted],
    prior: Mapping[int, int],
    fired: Iterable[int],
    *,
    threshold: int,
    shape: BucketShape,
) -> list[Decision]:
    """The pure firing step: given counts per sub-bucket, which events fire.

    ``counted`` is one group's hits of one batch in event order; ``prior`` the count per
    sub-bucket stored by others (not including this batch's new events); ``fired`` the
    sub-buckets whose fire marker is already set. The count at an event is ``prior`` plus this
    batch's new events up to it, summed over the window ending with its sub-bucket. A window
    fires once: when the count reaches ``threshold`` and no sub-bucket of that window fired.
    Duplicates add nothing to the count but still decide (so a lost firing is made again).
    Kept apart from the store so that these rules can be property-tested on their own.
    """
    done_marks = set(fired)
    local: dict[int, int] = {}
    times: list[float] = []
    out: list[Decision] = []
    for index, place in enumerate(counted):
        bucket = place.bucket
        span = shape.span(bucket)
        if place.fresh:
            local[bucket] = local.get(bucket, 0) + 1
            times.append(place.epoch)
        total = sum(prior.get(k, 0) + local.get(k, 0) for k in span)
        if total < threshold:
            out.append(Decision(Outcome.BELOW, index, total, bucket))
            continue
        done = [k for k in span if k in done_marks]
        if done:
            outcome = Outcome.SUPPRESSED if place.fresh else Outcome.REPLAY
            out.append(Decision(outcome, index, total, done[-1]))
            continue
        done_marks.add(bucket)
        # first seen: exact when every counted event is in this batch, else bucket start
        window_start_s = span.start * shape.bucket_s
        in_window = [t for t in times if t >= window_start_s]
        if len(in_window) >= total:
            first = min(in_window)
        else:
            oldest = next(k for k in span if prior.get(k, 0) + local.get(k, 0) > 0)
            first = float(oldest * shape.bucket_s)
        out.append(Decision(Outcome.FIRE, index, total, bucket, first))
    return out
