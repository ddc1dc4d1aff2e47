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
                firing = build_firing(alert_id, key, new, total)
                first = firing.first
                if first is not None:  # kept for the updates: first seen of the whole window
                    state.record_max(f"df:{alert_id}", "first", -first, expires_at=expires)
            else:
                # The window's alert again (same id) with its new total: outputs that update in
                # place (a Security Hub finding) follow the incident; the others skip the id.
                tally.suppressed += len(new)
                firing = build_firing(alert_id, key, new, total, update=True)
        if dups:
            tally.duplicates += len(dups)
            if firing is None:  # a redelivery: send the window's alert again, same id
                total = state.get_counts([f"dd:{alert_id}"])[f"dd:{alert_id}"]
                firing = build_firing(alert_id, key, dups, max(total, len(dups)), replay=True)
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


def build_firing(
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
