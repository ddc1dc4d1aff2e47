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

**Step events.** The alert shows, per step, its count, first and last time and its first and
last event (``context.sequence.steps[i].first_event`` / ``last_event``): the redacted event, cut to
``MAX_STORED_EVENT_BYTES`` (4 KiB of JSON; the longest strings are cut first, with the marker the
alert builder uses). A sequence completes across batches and cold starts, so every event kept as
a member is also kept, redacted and cut, as a value ``sqe:<rule>:<fingerprint>`` that expires
with it — at most ``min`` per step, key and batch, like the members — and written in the same
batched call as the heads. A firing reads the events it needs that are not in its own batch in
one batched read. The same cut copy is shown whichever batch an event came from, so the alert
does not depend on how the stream was batched.

**Matching** (``_match``) is exact on the events it has: for a completing event E, take the latest
``min`` events of the last step up to E, then for each earlier step the latest ``min`` events
strictly before the earliest event already taken. Taking the latest events keeps the span as short
as possible, so the sequence exists within ``within`` if and only if this choice fits.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from typing import Any

from engine.alerts.ids import alert_id
from engine.alerts.redact import cap_text, redact_event
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
MAX_STORED_EVENT_BYTES = 4096  # one stored step event (DynamoDB items stop at 400 KB)
_MIN_CUT = 64  # strings are never cut below this (then fields are dropped instead)
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


def stored_event(redacted: dict[str, Any], limit: int = MAX_STORED_EVENT_BYTES) -> str:
    """The JSON text of a redacted event, at most ``limit`` bytes: the longest strings are cut
    first (``cap_text``'s marker says how much); if that is not enough, fields are dropped
    (``_cut`` counts them and names ten); a text that still does not fit is replaced by a note."""
    event: Any = json.loads(json.dumps(redacted, default=str))  # a copy we may cut

    def size(value: Any) -> int:
        return len(json.dumps(value, sort_keys=True, ensure_ascii=False).encode())

    for _ in range(32):
        over = size(event) - limit
        if over <= 0:
            return json.dumps(event, sort_keys=True, ensure_ascii=False)
        spot = _longest_string(event)
        if spot is None or len(spot[0][spot[1]]) <= _MIN_CUT:
            break
        holder, name = spot
        text = holder[name]
        holder[name] = cap_text(text, max(_MIN_CUT, len(text) - over - 48))
    if isinstance(event, dict):
        dropped: list[str] = []
        for name in sorted(event, key=lambda k: size(event[k]), reverse=True):
            if size(event) <= limit - 400:  # room for ``_cut``
                break
            if name != "das":
                dropped.append(name)
                del event[name]
        event["_cut"] = {"dropped": len(dropped), "fields": sorted(dropped)[:10]}
        if size(event) <= limit:
            return json.dumps(event, sort_keys=True, ensure_ascii=False)
    return json.dumps({"_cut": f"the event is larger than {limit} bytes"})


def _longest_string(value: Any) -> tuple[Any, Any] | None:
    """(container, key or index) of the longest string in ``value``, nested or not."""
    best: tuple[Any, Any] | None = None
    best_len = -1
    stack = [value]
    while stack:
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in pairs:
            if isinstance(v, str) and len(v) > best_len:
                best, best_len = (node, k), len(v)
            elif isinstance(v, dict | list):
                stack.append(v)
    return best


class SequenceTracker:
    def __init__(
        self,
        state: StateStore,
        *,
        margin_s: int = DEFAULT_MARGIN_S,
        redact: Callable[[dict[str, Any]], dict[str, Any]] = redact_event,
    ) -> None:
        self.state = state
        self.margin_s = margin_s
        self.fires = FireLog(state)
        self.redact = redact  # the engine passes its own (same options, cached per call)

    def _stored(self, event: dict[str, Any]) -> str:
        return stored_event(self.redact(event))

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
                    body = self._body(rule, kh.hit.fp)
                    if body not in heads:
                        heads[body] = (self._stored(kh.hit.event), expires)
        if members:
            self.state.put_members(members)
        if heads:
            self.state.put_values(heads)  # the heads and the step events: one batched write
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
    def _body(rule: Rule, fp: str) -> str:
        return f"sqe:{rule.id}:{fp}"

    def _step_events(self, rule: Rule, picks: list[list[_Ev]]) -> list[tuple[Any, Any]]:
        """Each step's first and last event as the alert shows them (redacted, cut): from this
        batch, or in one batched read from the store (None when not stored)."""
        ends = [(min(c, key=lambda e: e.pos), max(c, key=lambda e: e.pos)) for c in picks]
        missing = {self._body(rule, e.fp) for pair in ends for e in pair if e.hit is None}
        found = self.state.get_values(sorted(missing)) if missing else {}

        def shown(e: _Ev) -> Any:
            if e.hit is not None:
                return json.loads(self._stored(e.hit.hit.event))
            item = found.get(self._body(rule, e.fp))
            if item is None:
                return None
            try:
                return json.loads(item[0])
            except ValueError:
                return None

        return [(shown(first), shown(last)) for first, last in ends]

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
            firing = _fired(rule, key, e, found, self._step_events(rule, found))
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


def _fired(
    rule: Rule,
    key: str,
    done: _Ev,
    picks: list[list[_Ev]],
    shown: list[tuple[Any, Any]],
) -> Fired:
    seq = rule.sequence
    assert seq is not None
    start = min(e.epoch for e in picks[0])
    steps: list[dict[str, Any]] = []
    total = 0
    for i, (step, chosen, (first_event, last_event)) in enumerate(
        zip(seq.steps, picks, shown, strict=True)
    ):
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
                "first_event": first_event,
                "last_event": last_event,
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
