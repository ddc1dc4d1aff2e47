"""Sequence rules: ordered steps by one key within a window, in event time, across batches.

``login-success-after-failures``: five ``LOGIN_FAILED`` and then a ``CONNECT`` from one host
within ten minutes. The steps' events arrive in different batches, on cold containers, maybe
twice; the sequence must still fire exactly once.

**State.** Each key (``by``) owns one namespace, ``sq:<rule>:<digest of key>``, of small members
``<step>:<event fingerprint> = event time`` that expire with the window (``within`` plus the
margin of ``suppress``). A step never needs more than its ``min`` latest events to decide (see
``_match``), so a batch stores at most ``min`` events per step and key: a flood of failures costs
a handful of items, not one per event. The member ``fired`` holds the time of the last completion
of the key: events up to it are *consumed*, so one burst fires once, and the next sequence has to
start after it.

**Per batch** (``process``): one batched write of the new members of every key (and of a small
*head* item per key that had an earlier step), one batched read of the heads of the keys that
have a last-step event, then one read (a ``Query``) per such key that has a head — never a read
per event; a success from a host that never failed costs no ``Query``. Writing before reading is
what makes two concurrent invocations safe: whichever reads last sees both halves; if both do,
the firing's conditional write (``FireLog.claim``) lets one of them alert.

**Matching** (``_match``) is exact on the events it has: for a completing event E, take the latest
``min`` events of the last step up to E, then for each earlier step the latest ``min`` events
strictly before the earliest event already taken. Taking the latest events keeps the span as short
as possible, so the sequence exists within ``within`` if and only if this choice fits.
"""

from __future__ import annotations

import bisect
from typing import Any

from engine.alerts.ids import alert_id
from engine.pipeline.state import Member, StateStore
from engine.rules.model import Rule
from engine.rules.runtime.stateful import (
    MAX_KEYS_PER_CALL,
    Fired,
    FireLog,
    KeyedHit,
    StatefulTally,
)
from engine.rules.runtime.suppress import DEFAULT_MARGIN_S, group_digest

FIRED = "fired"
# position of an event: (event time, batch order); stored events sort before the batch's
Pos = tuple[float, int]


def _iso(epoch: float | None) -> str | None:
    from engine.rules.runtime.engine import iso

    return iso(epoch)


class _Ev:
    __slots__ = ("epoch", "fp", "hit", "order", "steps")

    def __init__(self, epoch: float, order: int, fp: str, hit: KeyedHit | None) -> None:
        self.epoch = epoch
        self.order = order
        self.fp = fp
        self.hit = hit
        self.steps: set[int] = set()

    @property
    def pos(self) -> Pos:
        return (self.epoch, self.order)


class SequenceTracker:
    def __init__(self, state: StateStore, *, margin_s: int = DEFAULT_MARGIN_S) -> None:
        self.state = state
        self.margin_s = margin_s
        self.fires = FireLog(state)

    def process(self, rule: Rule, hits: list[KeyedHit]) -> tuple[list[Fired], StatefulTally]:
        seq = rule.sequence
        assert seq is not None
        tally = StatefulTally()
        last = len(seq.steps) - 1
        by_key: dict[str, list[KeyedHit]] = {}
        for kh in hits:
            if kh.hit.epoch is None:
                tally.untimed += 1
            elif kh.key in by_key or len(by_key) < MAX_KEYS_PER_CALL:
                by_key.setdefault(kh.key, []).append(kh)
            else:
                tally.dropped += 1
        # 1. write what later batches need: the latest `min` events of each step, per key
        members: list[Member] = []
        heads: dict[str, tuple[str, float]] = {}
        for key, khs in by_key.items():
            ns = self._ns(rule, key)
            if any(i < last for kh in khs for i in kh.steps):
                latest = max(float(kh.hit.epoch) for kh in khs)  # type: ignore[arg-type]
                heads[self._head(rule, key)] = ("1", latest + seq.within_s + self.margin_s)
            for i, step in enumerate(seq.steps):
                if i == last and step.min == 1:
                    continue  # a single completing event is never needed later
                of_step = sorted(
                    (kh for kh in khs if i in kh.steps), key=lambda kh: (kh.hit.epoch, kh.order)
                )
                for kh in of_step[-step.min :]:
                    epoch = float(kh.hit.epoch)  # type: ignore[arg-type]
                    expires = epoch + seq.within_s + self.margin_s
                    members.append((ns, f"{i}:{kh.hit.fp}", epoch, expires))
        if members:
            self.state.put_members(members)
        if heads:
            self.state.put_values(heads)
        # 2. per key with a completing event and any earlier step on record: read its state
        # once (one batched read of the heads says which keys have any), match in event order
        completing = [k for k, khs in by_key.items() if any(last in kh.steps for kh in khs)]
        known = self.state.get_values([self._head(rule, k) for k in completing])
        fired: list[Fired] = []
        for key, khs in by_key.items():
            if key not in completing or known.get(self._head(rule, key)) is None:
                tally.pending += len(khs)  # nothing before it: this key cannot complete
                continue
            fired += self._key(rule, key, khs, tally)
        return fired, tally

    @staticmethod
    def _head(rule: Rule, key: str) -> str:
        """A key's marker: an earlier step was seen (written with its members, never removed
        before they expire), so a completing event of a key without one costs no Query."""
        return f"sqh:{rule.id}:{group_digest(key)}"

    @staticmethod
    def _ns(rule: Rule, key: str) -> str:
        return f"sq:{rule.id}:{group_digest(key)}"

    def _key(self, rule: Rule, key: str, khs: list[KeyedHit], tally: StatefulTally) -> list[Fired]:
        seq = rule.sequence
        assert seq is not None
        last = len(seq.steps) - 1
        ns = self._ns(rule, key)
        stored = self.state.read_namespace(ns)
        consumed = stored.pop(FIRED, None)
        events: dict[str, _Ev] = {}
        for kh in khs:
            ev = events.get(kh.hit.fp)
            if ev is None:
                ev = events[kh.hit.fp] = _Ev(float(kh.hit.epoch), kh.order, kh.hit.fp, kh)  # type: ignore[arg-type]
            ev.steps.update(kh.steps)
        for name, epoch in stored.items():
            step_text, _, fp = name.partition(":")
            if not step_text.isdigit() or int(step_text) > last:
                continue
            ev = events.get(fp)
            if ev is None:
                ev = events[fp] = _Ev(float(epoch), -1, fp, None)
            ev.steps.add(int(step_text))
        ordered = sorted(events.values(), key=lambda e: e.pos)
        completers = [e for e in ordered if e.hit is not None and last in e.steps]
        by_step = _Steps(ordered, last + 1)
        out: list[Fired] = []
        maybe_replayed: list[_Ev] = []
        for e in completers:
            if consumed is not None and e.epoch <= consumed:
                maybe_replayed.append(e)
                continue
            found = _match(rule, by_step, e, consumed)
            if found is None:
                tally.pending += 1
                continue
            firing = _fired(rule, key, e, found)
            expires = e.epoch + seq.within_s + self.margin_s
            consumed = e.epoch
            self.state.record_max(ns, FIRED, e.epoch, expires_at=expires)
            slot = group_digest(key)
            start = firing.first if firing.first is not None else e.epoch
            if self.fires.claim(
                rule.id, slot, firing, e.fp, when=e.epoch, if_below=start, expires_at=expires
            ):
                out.append(firing)
            else:
                tally.suppressed += 1  # another invocation fired this sequence first
        if maybe_replayed:
            summaries = self.fires.lookup(rule.id, [e.fp for e in maybe_replayed])
            sent = {f.alert_id for f in out}
            for e in maybe_replayed:
                summary = summaries.get(e.fp)
                if summary is None or summary.get("id") in sent:
                    tally.duplicates += 1
                    continue
                assert e.hit is not None
                out.append(FireLog.replayed(summary, key, e.hit.hit.event))
                sent.add(str(summary.get("id")))
        return out


class _Steps:
    """The key's events of each step in time order, with their positions for bisection: a
    completing event finds each step's latest events before a boundary in O(log n + min), so a
    batch full of completing events (READ then WRITE by database) stays linear, not quadratic."""

    def __init__(self, ordered: list[_Ev], n_steps: int) -> None:
        self.events: list[list[_Ev]] = [[] for _ in range(n_steps)]
        for e in ordered:
            for i in e.steps:
                if i < n_steps:
                    self.events[i].append(e)
        self.pos = [[e.pos for e in evs] for evs in self.events]


def _match(rule: Rule, steps: _Steps, done: _Ev, consumed: float | None) -> list[list[_Ev]] | None:
    """The events each step used for a sequence completed by ``done``, or None (see module)."""
    seq = rule.sequence
    assert seq is not None
    last = len(seq.steps) - 1
    used: set[str] = set()
    picks: list[list[_Ev]] = [[] for _ in seq.steps]
    boundary = done.pos
    for i in range(last, -1, -1):
        need = seq.steps[i].min
        evs = steps.events[i]
        # the events of step i at or before the boundary (strictly before, for earlier steps)
        if i == last:
            end = bisect.bisect_right(steps.pos[i], boundary)
        else:
            end = bisect.bisect_left(steps.pos[i], boundary)
        chosen: list[_Ev] = []
        if i == last:
            if done.fp in used:
                return None
            chosen.append(done)  # the completing event is the last step's latest
            end = bisect.bisect_left(steps.pos[i], boundary)
        k = end - 1
        while len(chosen) < need and k >= 0:
            e = evs[k]
            k -= 1
            if consumed is not None and e.epoch <= consumed:
                break  # time order: everything earlier was consumed too
            if e.fp in used or e is done:
                continue
            chosen.append(e)
        if len(chosen) < need:
            return None
        used.update(e.fp for e in chosen)
        picks[i] = chosen
        boundary = chosen[-1].pos
    if done.epoch - boundary[0] > seq.within_s:
        return None
    return picks


def _fired(rule: Rule, key: str, done: _Ev, picks: list[list[_Ev]]) -> Fired:
    seq = rule.sequence
    assert seq is not None
    start = min(e.epoch for e in picks[0])
    steps: list[dict[str, Any]] = []
    total = 0
    for i, (step, chosen) in enumerate(zip(seq.steps, picks, strict=True)):
        times = [e.epoch for e in chosen]
        total += len(chosen)
        steps.append(
            {
                "step": i + 1,
                **({"name": step.name} if step.name else {}),
                "when": step.when.src,
                "min": step.min,
                "count": len(chosen),
                "first_seen": _iso(min(times)),
                "last_seen": _iso(max(times)),
            }
        )
    assert done.hit is not None
    return Fired(
        alert_id=alert_id(rule.id, key, int(start)),
        key=key,
        event=done.hit.hit.event,
        count=total,
        first=start,
        last=done.epoch,
        context={"sequence": {"by": key, "within_s": seq.within_s, "steps": steps}},
    )
