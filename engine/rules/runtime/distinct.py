"""Distinct counts: ``threshold.distinct`` counts distinct values per group in a sliding window.

``threshold: {count: 5, distinct: dbUserName, window: 10m, group_by: remoteHost}`` alerts
when one host fails to log in as five different users within ten minutes (password spraying),
which an event count cannot tell from one user mistyping a password five times.

**State.** One namespace per group (``dv:<rule>:<group digest>``) of members
``<value> = last time seen`` that expire with the window, and ``#fired`` = the time the group last
fired. Counting a value twice is impossible by construction (a set), so redelivery cannot inflate
the count. A batch adds at most ``MAX_VALUES_PER_GROUP`` values per group (the rest are counted in
``dropped``): a flood of random user names costs bounded memory and writes.

**Per batch**: one batched write of every group's values (the latest time of each), then one
``Query`` per group (sent concurrently); the count at each event is then computed here over the
stored and the new times (a sliding window over event time). A group fires once per window; the
firing is a conditional write (``FireLog.claim``), so two shards reaching the count together
alert once.
"""

from __future__ import annotations

import json
from collections import deque

from engine.alerts.ids import alert_id
from engine.pipeline.state import Member, StateStore
from engine.rules.model import Rule
from engine.rules.runtime.stateful import (
    MAX_KEYS_PER_CALL,
    MAX_VALUES_PER_GROUP,
    Fired,
    FireLog,
    KeyedHit,
    StatefulTally,
)
from engine.rules.runtime.suppress import DEFAULT_MARGIN_S, group_digest

FIRED = "#fired"
MAX_NAME_CHARS = 200  # longer values are stored as a digest (DynamoDB sort keys are short)
SHOWN_VALUES = 20  # distinct values listed in the alert's context


def _name(value: str) -> str:
    return value if len(value) <= MAX_NAME_CHARS else "#" + group_digest(value)


def _shown(name: str) -> object:
    """A stored name as the alert shows it: the value itself (digests stay as they are)."""
    try:
        return json.loads(name)
    except ValueError:
        return name


class DistinctCounter:
    def __init__(self, state: StateStore, *, margin_s: int = DEFAULT_MARGIN_S) -> None:
        self.state = state
        self.margin_s = margin_s
        self.fires = FireLog(state)

    def process(self, rule: Rule, hits: list[KeyedHit]) -> tuple[list[Fired], StatefulTally]:
        th = rule.threshold
        assert th is not None
        tally = StatefulTally()
        groups: dict[str, list[KeyedHit]] = {}
        values: dict[str, set[str]] = {}
        for kh in hits:
            if kh.hit.epoch is None:
                tally.untimed += 1
                continue
            if kh.key not in groups and len(groups) >= MAX_KEYS_PER_CALL:
                tally.dropped += 1
                continue
            seen = values.setdefault(kh.key, set())
            name = _name(kh.value or "null")
            if name not in seen and len(seen) >= MAX_VALUES_PER_GROUP:
                tally.dropped += 1
                continue
            seen.add(name)
            groups.setdefault(kh.key, []).append(kh)
        latest: dict[tuple[str, str], float] = {}
        for group, khs in groups.items():
            for kh in khs:
                k = (group, _name(kh.value or "null"))
                latest[k] = max(latest.get(k, float("-inf")), float(kh.hit.epoch))  # type: ignore[arg-type]
        members: list[Member] = [
            (self._ns(rule, g), name, t, t + th.window_s + self.margin_s)
            for (g, name), t in latest.items()
        ]
        if members:
            self.state.put_members(members)
        out: list[Fired] = []
        # every group's state at once: independent Queries, sent concurrently by the store
        pages = self.state.read_namespaces(self._ns(rule, g) for g in groups)
        for group, khs in groups.items():
            out += self._group(rule, group, khs, dict(pages[self._ns(rule, group)]), tally)
        return out, tally

    @staticmethod
    def _ns(rule: Rule, group: str) -> str:
        return f"dv:{rule.id}:{group_digest(group)}"

    def _group(
        self,
        rule: Rule,
        group: str,
        khs: list[KeyedHit],
        stored: dict[str, float],
        tally: StatefulTally,
    ) -> list[Fired]:
        th = rule.threshold
        assert th is not None
        ns = self._ns(rule, group)
        last_fired = stored.pop(FIRED, None)
        ordered = sorted(khs, key=lambda kh: (kh.hit.epoch, kh.order))
        batch_names = {_name(kh.value or "null") for kh in khs}
        # every known occurrence, in time order: stored ones (not from this batch) and ours
        points = sorted(
            [(t, -1, name) for name, t in stored.items() if name not in batch_names]
            + [(float(kh.hit.epoch), kh.order, _name(kh.value or "null")) for kh in ordered]  # type: ignore[arg-type]
        )
        window: deque[tuple[float, int, str]] = deque()
        active: dict[str, int] = {}
        nxt = 0
        out: list[Fired] = []
        maybe_replayed: list[KeyedHit] = []
        for kh in ordered:
            t = float(kh.hit.epoch)  # type: ignore[arg-type]
            while nxt < len(points) and points[nxt][:2] <= (t, kh.order):
                window.append(points[nxt])
                active[points[nxt][2]] = active.get(points[nxt][2], 0) + 1
                nxt += 1
            while window and window[0][0] < t - th.window_s:
                _, _, name = window.popleft()
                active[name] -= 1
                if not active[name]:
                    del active[name]
            if len(active) < th.count:
                tally.pending += 1
                continue
            if last_fired is not None and t - last_fired < th.window_s:
                if t <= last_fired:
                    maybe_replayed.append(kh)
                else:
                    tally.suppressed += 1
                continue
            shown = [_shown(name) for name in sorted(active)[:SHOWN_VALUES]]
            first = window[0][0] if window else t
            firing = Fired(
                alert_id=alert_id(rule.id, group, int(t)),
                key=group,
                event=kh.hit.event,
                count=len(active),
                first=first,
                last=t,
                context={
                    "threshold": th.count,
                    "distinct": th.distinct.src if th.distinct else None,
                    "window_s": th.window_s,
                    "group": group,
                    "values": shown,
                },
            )
            expires = t + th.window_s + self.margin_s
            last_fired = t
            self.state.record_max(ns, FIRED, t, expires_at=expires)
            # the slot takes this firing only if the group's last one is a window old
            if self.fires.claim(
                rule.id,
                group_digest(group),
                firing,
                kh.hit.fp,
                when=t,
                if_below=t - th.window_s + 1e-6,
                expires_at=expires,
            ):
                out.append(firing)
            else:
                tally.suppressed += 1
        if maybe_replayed:
            summaries = self.fires.lookup(rule.id, [kh.hit.fp for kh in maybe_replayed])
            sent = {f.alert_id for f in out}
            for kh in maybe_replayed:
                summary = summaries.get(kh.hit.fp)
                if summary is None or summary.get("id") in sent:
                    tally.suppressed += 1
                    continue
                out.append(FireLog.replayed(summary, group, kh.hit.event))
                sent.add(str(summary.get("id")))
        return out
