"""Suppression in event time: dedup windows and count thresholds, through a ``StateStore``.

Both are **idempotent**: Kinesis redelivers a whole batch when anything in it failed, so every
matching event is first recorded with ``add_once`` under a fingerprint of the event; an event seen
before is never counted again.

A redelivered batch may be one whose first attempt died before its alerts were delivered (an output
down, the Lambda timed out, the state store throttled half-way). So when a window's or a threshold's
matching events come back as duplicates, the alert of that window — or of every threshold firing
within their window — is emitted **again, with the same id**: outputs are idempotent by id
(``engine.pipeline.delivery`` skips what was already sent), so a resend costs nothing and a lost
alert is impossible. After such a crash a dedup ``count`` can be short (events the dead attempt
marked seen but had not yet counted); a threshold count is taken first and corrected after, so it
can only be high (an alert a little early), never low (a burst missed).

State key layout (every key expires at the end of its window plus ``margin_s``, in event time):

==============================  ========  ===================================================
key                             kind      meaning
==============================  ========  ===================================================
``seen:<rule>:<fp>``            marker    the event ``fp`` has been counted for ``rule``
``dd:<alert id>``               counter   matching events in one dedup window
``df:<alert id>`` (namespace)   maximum   ``first`` = minus the window's first event time
``tc:<rule>:<group>:<bucket>``  counter   matching events of a group in one sub-bucket
``tf:<rule>:<group>:<bucket>``  counter   1 when the threshold fired in that sub-bucket
``tm:<rule>:<group>:<bucket>``  maximum   ``first`` = minus the sub-bucket's earliest event time
==============================  ========  ===================================================

``<fp>`` is a digest of the whole event, ``<group>`` a digest of the group value's JSON (a group
can be long: keys stay short enough for any store), ``<alert id>`` is ``alert_id(...)``.

Dedup windows are tumbling windows aligned to the epoch (``floor(epoch / window) * window``).
A threshold counts in a sliding window made of sub-buckets of ``window / 10`` (at least 1 s):
the count at an event is the sum of the buckets that end with the event's bucket, so the window is
exact to one sub-bucket (at most 10 % longer than written). It fires once per group per window.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.pipeline.state import StateStore

# How long after its window a key stays: the stream's retention (24 h for DAS) plus an hour, so
# an event read late (a backlog after an outage, retries) still finds its window's state. Keys
# expire in *event* time; a store that expires them by the wall clock (DynamoDB TTL) would
# otherwise restart counts for a stream running behind.
DEFAULT_MARGIN_S = 25 * 3600
THRESHOLD_BUCKETS = 10


def fingerprint(event: dict[str, Any]) -> str:
    """A stable digest of the whole event: the identity used for idempotency.

    Computed only for matching events (rare), never for every event.
    """
    doc = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(doc.encode(), digest_size=16).hexdigest()


def group_digest(group: str) -> str:
    """A short, stable stand-in for a group's JSON in state keys."""
    return hashlib.blake2b(group.encode(), digest_size=12).hexdigest()


def key_json(value: Any) -> str:
    """The canonical text of a dedup key / group value (what alert ids are built from)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(slots=True)
class Hit:
    """One matching event of one rule, with its event time and fingerprint."""

    event: dict[str, Any]
    epoch: float | None
    fp: str


@dataclass(slots=True)
class Firing:
    """An alert to build: the suppression layer decided it must be sent (again)."""

    alert_id: str
    key: str | None
    event: dict[str, Any]
    count: int
    first: float | None
    last: float | None
    replay: bool = False  # a redelivered batch: the same alert as before, sent again
    update: bool = False  # the same alert as before, with the window's new count
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Tally:
    """What suppression did with the hits it was given (all counts are matches)."""

    suppressed: int = 0  # folded into an alert already sent for the same window
    duplicates: int = 0  # seen before (redelivery), not counted again
    below_threshold: int = 0  # counted, threshold not reached (yet)
    untimed: int = 0  # no event time: cannot be placed in a threshold window

    def add(self, other: Tally) -> None:
        self.suppressed += other.suppressed
        self.duplicates += other.duplicates
        self.below_threshold += other.below_threshold
        self.untimed += other.untimed


def window_start(epoch: float, window_s: int) -> int:
    return int(math.floor(epoch / window_s) * window_s)


class Deduplicator:
    """One alert per (rule, dedup key, tumbling window); later matches only count."""

    def __init__(self, state: StateStore, *, margin_s: int = DEFAULT_MARGIN_S) -> None:
        self.state = state
        self.margin_s = margin_s

    def window(
        self,
        seen_ns: str,
        alert_id: str,
        key: str | None,
        start: int,
        window_s: int,
        hits: list[Hit],
    ) -> tuple[Firing | None, Tally]:
        """Process the hits of one window (all share ``alert_id``) from one batch, in order."""
        tally = Tally()
        state = self.state
        expires = start + window_s + self.margin_s
        new: list[Hit] = []
        dups: list[Hit] = []
        for hit in hits:
            fresh = state.add_once(f"seen:{seen_ns}:{hit.fp}", expires_at=expires)
            (new if fresh else dups).append(hit)
        firing: Firing | None = None
        if new:
            total = state.incr(f"dd:{alert_id}", len(new), expires_at=expires)
            if total == len(new):  # this batch opened the window (atomic across shards)
                firing = _firing(alert_id, key, new, total)
                first = firing.first
                if first is not None:  # kept for the updates: first seen of the whole window
                    state.record_max(f"df:{alert_id}", "first", -first, expires_at=expires)
            else:
                # The window's alert again (same id) with its new total: outputs that update in
                # place (a Security Hub finding) follow the incident; the others skip the id.
                tally.suppressed += len(new)
                firing = _firing(alert_id, key, new, total, update=True)
        if dups:
            tally.duplicates += len(dups)
            if firing is None:  # a redelivery: send the window's alert again, same id
                total = state.get_counts([f"dd:{alert_id}"])[f"dd:{alert_id}"]
                firing = _firing(alert_id, key, dups, max(total, len(dups)), replay=True)
        if firing is not None and (firing.update or firing.replay):
            seen = state.read_namespace(f"df:{alert_id}").get("first")
            if seen is not None and (firing.first is None or -seen < firing.first):
                firing.first = -seen
        return firing, tally


def representative(hits: list[Hit]) -> Hit:
    """The event an alert carries (its title, its SQL): the most recent matching event.

    One choice for every path — ``dasalert eval`` (one call over a whole capture), ``run`` and the
    Lambda (one call per record) and the rule tests — so the same alert has the same title
    everywhere. The latest event is the only one every path can know without storing events:
    an update from a later batch sees its own hits, never the window's first. Ties in event time
    go to the later hit in input order; a hit without time counts as older than any timed one.
    """
    best = hits[0]
    for hit in hits[1:]:
        if hit.epoch is None:
            if best.epoch is None:
                best = hit
            continue
        if best.epoch is None or hit.epoch >= best.epoch:
            best = hit
    return best


def _firing(
    alert_id: str,
    key: str | None,
    hits: list[Hit],
    count: int,
    *,
    replay: bool = False,
    update: bool = False,
) -> Firing:
    times = [h.epoch for h in hits if h.epoch is not None]
    return Firing(
        alert_id=alert_id,
        key=key,
        event=representative(hits).event,
        count=count,
        first=min(times) if times else None,
        last=max(times) if times else None,
        replay=replay,
        update=update,
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
        """``hits`` are ``(group key, hit)`` pairs; ``make_id(group, window_start) -> id``."""
        tally = Tally()
        firings: list[Firing] = []
        groups: dict[str, list[Hit]] = {}
        for group, hit in hits:
            if hit.epoch is None:
                tally.untimed += 1
            else:
                groups.setdefault(group, []).append(hit)
        for group, group_hits in groups.items():
            group_hits.sort(key=_timed)  # event order, whatever the batch order
            fired, t = self._group(rule_id, count, window_s, group, group_hits, make_id)
            firings += fired
            tally.add(t)
        return firings, tally

    def _group(
        self,
        rule_id: str,
        count: int,
        window_s: int,
        group: str,
        hits: list[Hit],
        make_id: Any,
    ) -> tuple[list[Firing], Tally]:
        """One group's hits of one batch, in event order: count, decide, claim.

        Store round trips are per batch, not per event, beyond the one ``add_once`` that
        idempotency needs: one ``incr`` per touched bucket, one read of the counts and one of
        the fire markers for the whole span (``_count``); the running count of each event is
        then computed without the store (``threshold_decisions``: what was stored before this
        batch + this batch's new events up to that one); last, each decided firing claims its
        fire marker (``_claim``), which is what makes one firing per window hold across shards.
        Duplicates (a redelivery) are already in the stored counts: they are not counted again,
        but they still re-check the threshold — so a firing that the dead attempt never made,
        or made and never delivered, happens now (a re-sent alert keeps its id).
        """
        shape = threshold_shape(window_s)
        prefix = f"{rule_id}:{group_digest(group)}"
        counted, prior, fired = self._count(rule_id, prefix, shape, window_s, hits)
        decisions = threshold_decisions(counted, prior, fired, threshold=count, shape=shape)
        return self._claim(prefix, shape, window_s, count, group, hits, counted, decisions, make_id)

    def _expires(self, shape: BucketShape, window_s: int, bucket: int) -> int:
        return (bucket + 1) * shape.bucket_s + window_s + self.margin_s

    def _count(
        self,
        rule_id: str,
        prefix: str,
        shape: BucketShape,
        window_s: int,
        hits: list[Hit],
    ) -> tuple[list[Counted], dict[int, int], set[int]]:
        """The counting step: record the hits in the store and read back what others counted.

        Returns each hit placed in its sub-bucket (and whether it is new), the count per
        sub-bucket stored by *other* batches (and earlier attempts of this one) over the whole
        span the batch's windows cover, and the sub-buckets whose fire marker is set.
        """
        state = self.state

        def expires(bucket: int) -> int:
            return self._expires(shape, window_s, bucket)

        # Count first, then mark, then take back the duplicates: a crash at any point can
        # only leave a count too high (an alert a little early), never too low (a missed one).
        located = [(shape.bucket_of(_timed(h)), h) for h in hits]
        every: dict[int, int] = {}
        for bucket, _ in located:
            every[bucket] = every.get(bucket, 0) + 1
        earliest: dict[int, float] = {}
        for bucket, hit in located:
            t = _timed(hit)
            earliest[bucket] = min(t, earliest.get(bucket, t))
        for bucket, amount in every.items():
            state.incr(f"tc:{prefix}:{bucket}", amount, expires_at=expires(bucket))
            # the sub-bucket's earliest event: an alert's first seen is exact across batches
            state.record_max(
                f"tm:{prefix}:{bucket}", "first", -earliest[bucket], expires_at=expires(bucket)
            )
        counted: list[Counted] = []
        added: dict[int, int] = {}
        for bucket, hit in located:
            fresh = state.add_once(f"seen:{rule_id}:{hit.fp}", expires_at=expires(bucket))
            counted.append(Counted(bucket, _timed(hit), fresh))
            if fresh:
                added[bucket] = added.get(bucket, 0) + 1
        for bucket, amount in every.items():
            if amount > added.get(bucket, 0):  # a redelivery: counted once, by its first attempt
                taken = amount - added.get(bucket, 0)
                state.incr(f"tc:{prefix}:{bucket}", -taken, expires_at=expires(bucket))
        buckets = [c.bucket for c in counted]
        span_all = range(min(buckets) - shape.buckets + 1, max(buckets) + 1)
        stored = state.get_counts([f"tc:{prefix}:{k}" for k in span_all])
        # what other batches (and earlier attempts of this one) counted
        prior = {k: max(0, stored[f"tc:{prefix}:{k}"] - added.get(k, 0)) for k in span_all}
        marks = state.get_counts([f"tf:{prefix}:{k}" for k in span_all])
        fired = {k for k in span_all if marks[f"tf:{prefix}:{k}"]}
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
                    firing = self._firing(
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
            firing = self._firing(make_id, group, start, hit, decision.total, place.epoch, first)
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
        stored = [
            -seen
            for k in shape.span(bucket)
            if (seen := self.state.read_namespace(f"tm:{prefix}:{k}").get("first")) is not None
        ]
        if not stored:
            return first
        return min(stored) if first is None else max(min(stored), first)

    @staticmethod
    def _firing(
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
