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
==============================  ========  ===================================================

``<fp>`` is a digest of the whole event, ``<group>`` a digest of the group value's JSON (a group
can be long: keys stay short enough for any store), ``<alert id>`` is ``alert_id(...)``.

Dedup windows are tumbling windows aligned to the epoch (``floor(epoch / window) * window``).
A threshold counts in a sliding window made of sub-buckets of ``window / 10`` (at least 1 s):
the count at an event is the sum of the buckets that end with the event's bucket, so the window is
exact to one sub-bucket (at most 10 % longer than written). It fires once per group per window.
"""

from __future__ import annotations

import hashlib
import json
import math
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
        event=hits[0].event,
        count=count,
        first=min(times) if times else None,
        last=max(times) if times else None,
        replay=replay,
        update=update,
    )


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
            group_hits.sort(key=lambda h: h.epoch)  # event order, whatever the batch order
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
        """One group's hits of one batch, in event order.

        Store round trips are per batch, not per event, beyond the one ``add_once`` that
        idempotency needs: one ``incr`` per touched bucket, one read of the counts and one of
        the fire markers for the whole span; the running count of each event is then computed
        here (what was stored before this batch + this batch's new events up to that one).
        Duplicates (a redelivery) are already in the stored counts: they are not counted again,
        but they still re-check the threshold — so a firing that the dead attempt never made,
        or made and never delivered, happens now (a re-sent alert keeps its id).
        """
        state = self.state
        tally = Tally()
        firings: list[Firing] = []
        bucket_s = max(1, window_s // THRESHOLD_BUCKETS)
        n = max(1, math.ceil(window_s / bucket_s))
        prefix = f"{rule_id}:{group_digest(group)}"
        context = {"threshold": count, "window_s": window_s, "group": group}

        def expires(bucket: int) -> int:
            return (bucket + 1) * bucket_s + window_s + self.margin_s

        # Count first, then mark, then take back the duplicates: a crash at any point can
        # only leave a count too high (an alert a little early), never too low (a missed one).
        located = [(int(float(h.epoch) // bucket_s), h) for h in hits]  # type: ignore[arg-type]
        every: dict[int, int] = {}
        for bucket, _ in located:
            every[bucket] = every.get(bucket, 0) + 1
        for bucket, amount in every.items():
            state.incr(f"tc:{prefix}:{bucket}", amount, expires_at=expires(bucket))
        marked: list[tuple[int, Hit, bool]] = []  # (bucket, hit, fresh)
        added: dict[int, int] = {}
        for bucket, hit in located:
            fresh = state.add_once(f"seen:{rule_id}:{hit.fp}", expires_at=expires(bucket))
            marked.append((bucket, hit, fresh))
            if fresh:
                added[bucket] = added.get(bucket, 0) + 1
        for bucket, amount in every.items():
            if amount > added.get(bucket, 0):  # a redelivery: counted once, by its first attempt
                taken = amount - added.get(bucket, 0)
                state.incr(f"tc:{prefix}:{bucket}", -taken, expires_at=expires(bucket))
        buckets = [bucket for bucket, _, _ in marked]
        span_all = range(min(buckets) - n + 1, max(buckets) + 1)
        stored = state.get_counts([f"tc:{prefix}:{k}" for k in span_all])
        # what other batches (and earlier attempts of this one) counted
        prior = {k: max(0, stored[f"tc:{prefix}:{k}"] - added.get(k, 0)) for k in span_all}
        marks = state.get_counts([f"tf:{prefix}:{k}" for k in span_all])
        fired = {k for k in span_all if marks[f"tf:{prefix}:{k}"]}
        emitted: set[str] = set()
        local: dict[int, int] = {}
        times: list[float] = []
        for bucket, hit, fresh in marked:
            epoch = float(hit.epoch)  # type: ignore[arg-type]
            span = range(bucket - n + 1, bucket + 1)
            if fresh:
                local[bucket] = local.get(bucket, 0) + 1
                times.append(epoch)
            else:
                tally.duplicates += 1  # already in ``prior``: never counted twice
            total = sum(prior.get(k, 0) + local.get(k, 0) for k in span)
            if total < count:
                if fresh:
                    tally.below_threshold += 1
                continue
            done = [k for k in span if k in fired]
            if done:
                if fresh:
                    tally.suppressed += 1
                    continue
                # a redelivered event inside a window that fired: re-send that alert (same id)
                start = done[-1] * bucket_s
                if make_id(group, start) not in emitted:
                    firing = self._firing(make_id, group, start, hit, total, epoch, None)
                    firing.replay = True
                    firing.context.update(context)
                    firings.append(firing)
                    emitted.add(firing.alert_id)
                continue
            fired.add(bucket)
            if state.incr(f"tf:{prefix}:{bucket}", 1, expires_at=expires(bucket)) != 1:
                tally.suppressed += 1  # another shard fired first
                continue
            # (a duplicate can fire here too: the attempt that counted it died before firing)
            # first seen: exact when every counted event is in this batch, else bucket start
            window_start_s = (bucket - n + 1) * bucket_s
            in_window = [t for t in times if t >= window_start_s]
            if len(in_window) >= total:
                first = min(in_window)
            else:
                oldest = next(k for k in span if prior.get(k, 0) + local.get(k, 0) > 0)
                first = float(oldest * bucket_s)
            firing = self._firing(make_id, group, bucket * bucket_s, hit, total, epoch, first)
            firing.context.update(context)
            firings.append(firing)
            emitted.add(firing.alert_id)
        return firings, tally

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
