"""Suppression in event time: dedup windows and count thresholds, through a ``StateStore``.

Both are **idempotent**: Kinesis redelivers a whole batch when anything in it failed, so every
matching event is first recorded with ``add_once`` under a fingerprint of the event; an event seen
before is never counted again. The batch that *opened* a window (or fired a threshold) also
records which event did it, so that a redelivery of that batch emits the same alert again (same
id: outputs are idempotent by id) instead of losing it when the first attempt died before the
alert was sent.

State key layout (every key expires at the end of its window plus ``margin_s``, in event time):

==============================  ========  ===================================================
key                             kind      meaning
==============================  ========  ===================================================
``seen:<rule>:<fp>``            marker    the event ``fp`` has been counted for ``rule``
``dd:<alert id>``               counter   matching events in one dedup window
``do:<alert id>:<fp>``          counter   1 when event ``fp`` opened that window
``tc:<rule>:<group>:<bucket>``  counter   matching events of a group in one sub-bucket
``tf:<rule>:<group>:<bucket>``  counter   1 when the threshold fired in that sub-bucket
``tw:<rule>:<group>:<fp>``      counter   1 when event ``fp`` made the threshold fire
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

from engine.state import StateStore

DEFAULT_MARGIN_S = 3600  # late events (shard lag, retries) still find their window
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
                state.incr(f"do:{alert_id}:{new[0].fp}", 1, expires_at=expires)
                firing = _firing(alert_id, key, new, total)
            else:
                tally.suppressed += len(new)
        if dups:
            if firing is None:
                opened = state.get_counts([f"do:{alert_id}:{h.fp}" for h in dups])
                if any(opened.values()):
                    total = state.get_counts([f"dd:{alert_id}"])[f"dd:{alert_id}"]
                    firing = _firing(alert_id, key, dups + new, max(total, 1), replay=True)
                    tally.suppressed -= len(new)  # they are part of the re-sent alert
            tally.duplicates += len(dups)
        return firing, tally


def _firing(alert_id: str, key: str | None, hits: list[Hit], count: int, *, replay=False) -> Firing:
    times = [h.epoch for h in hits if h.epoch is not None]
    return Firing(
        alert_id=alert_id,
        key=key,
        event=hits[0].event,
        count=count,
        first=min(times) if times else None,
        last=max(times) if times else None,
        replay=replay,
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
        here (what was stored before this batch + this batch's events up to that one).
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

        new: list[tuple[int, Hit]] = []
        dups: list[tuple[int, Hit]] = []
        for hit in hits:
            bucket = int(float(hit.epoch) // bucket_s)  # type: ignore[arg-type]
            fresh = state.add_once(f"seen:{rule_id}:{hit.fp}", expires_at=expires(bucket))
            (new if fresh else dups).append((bucket, hit))

        if new:
            added: dict[int, int] = {}
            for bucket, _ in new:
                added[bucket] = added.get(bucket, 0) + 1
            for bucket, amount in added.items():
                state.incr(f"tc:{prefix}:{bucket}", amount, expires_at=expires(bucket))
            span_all = range(min(added) - n + 1, max(added) + 1)
            stored = state.get_counts([f"tc:{prefix}:{k}" for k in span_all])
            prior = {k: stored[f"tc:{prefix}:{k}"] - added.get(k, 0) for k in span_all}
            marks = state.get_counts([f"tf:{prefix}:{k}" for k in span_all])
            fired = {k for k in span_all if marks[f"tf:{prefix}:{k}"]}
            local: dict[int, int] = {}
            times: list[float] = []
            for bucket, hit in new:
                epoch = float(hit.epoch)  # type: ignore[arg-type]
                local[bucket] = local.get(bucket, 0) + 1
                times.append(epoch)
                span = range(bucket - n + 1, bucket + 1)
                total = sum(max(0, prior.get(k, 0)) + local.get(k, 0) for k in span)
                if total < count:
                    tally.below_threshold += 1
                    continue
                if any(k in fired for k in span):
                    tally.suppressed += 1
                    continue
                fired.add(bucket)
                if state.incr(f"tf:{prefix}:{bucket}", 1, expires_at=expires(bucket)) != 1:
                    tally.suppressed += 1  # another shard fired first
                    continue
                state.incr(f"tw:{prefix}:{hit.fp}", 1, expires_at=expires(bucket))
                # first seen: exact when every counted event is in this batch, else bucket start
                start = (bucket - n + 1) * bucket_s
                in_window = [t for t in times if t >= start]
                if len(in_window) >= total:
                    first = min(in_window)
                else:
                    oldest = next(k for k in span if prior.get(k, 0) + local.get(k, 0) > 0)
                    first = float(oldest * bucket_s)
                firing = self._firing(make_id, group, bucket * bucket_s, hit, total, epoch, first)
                firing.context.update(context)
                firings.append(firing)

        if dups:
            tally.duplicates += len(dups)
            marks = state.get_counts([f"tw:{prefix}:{hit.fp}" for _, hit in dups])
            for bucket, hit in dups:
                if not marks[f"tw:{prefix}:{hit.fp}"]:
                    continue  # redelivered, but this event did not fire: nothing to resend
                span = range(bucket - n + 1, bucket + 1)
                total = sum(state.get_counts([f"tc:{prefix}:{k}" for k in span]).values())
                epoch = float(hit.epoch)  # type: ignore[arg-type]
                firing = self._firing(make_id, group, bucket * bucket_s, hit, total, epoch, None)
                firing.replay = True
                firing.context.update(context)
                firings.append(firing)
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
