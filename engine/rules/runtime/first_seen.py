"""First-seen rules (new terms): alert the first time a key takes a value in a scope.

``first_seen: {key: "[dbUserName, ip_prefix(remoteHost, `24`)]", scope: das.clusterId,
learn: 14d, remember: 90d}`` — the first time a user connects from a /24 on a cluster.

**Learning.** A scope's learning period starts with the first event the rule sees in it (the
earliest of that batch) and lasts ``learn`` in event time; values seen during it are only
remembered. A new cluster therefore learns on its own instead of alerting on everything.

**State**, one small item per value (``fsv:<rule>:<scope digest>:<value digest>``, holding the
value's first time, the event's fingerprint and whether it alerted) that expires 1.5 x ``remember``
after it is written and is rewritten only when less than ``remember`` is left: a value is kept at
least ``remember`` after it was last seen, and one seen every minute costs a write every
``remember / 2``, not one per event. The scope's learning start
is one more item (``fs0:``) refreshed the same way.

**Per batch**: one batched read of every scope start and value the batch touches; a conditional
write (``put_if_absent``) only for a value not already known — that write decides, across
concurrent invocations, which event is the first (exactly one alerts). A redelivered first event
finds its own fingerprint in the item and emits the same alert again (same id, ``replay``).
"""

from __future__ import annotations

from engine.alerts.ids import alert_id
from engine.pipeline.state import StateStore
from engine.rules.model import Rule
from engine.rules.runtime.stateful import MAX_KEYS_PER_CALL, Fired, KeyedHit, StatefulTally
from engine.rules.runtime.suppress import DEFAULT_MARGIN_S, group_digest, key_json


def _parse(text: str) -> tuple[float, str, bool] | None:
    parts = text.split("|")
    if len(parts) != 3:
        return None
    try:
        return float(parts[0]), parts[1], parts[2] == "1"
    except ValueError:
        return None


class FirstSeenTracker:
    def __init__(self, state: StateStore, *, margin_s: int = DEFAULT_MARGIN_S) -> None:
        self.state = state
        self.margin_s = margin_s

    def process(self, rule: Rule, hits: list[KeyedHit]) -> tuple[list[Fired], StatefulTally]:
        fs = rule.first_seen
        assert fs is not None
        tally = StatefulTally()
        # the earliest event of each (scope, value) in this batch; the others are not new
        firsts: dict[tuple[str, str], KeyedHit] = {}
        for kh in sorted(
            (h for h in hits if h.hit.epoch is not None), key=lambda h: (h.hit.epoch, h.order)
        ):
            pair = (kh.key, kh.value or "null")
            if pair in firsts:
                continue
            if len(firsts) >= MAX_KEYS_PER_CALL:
                tally.dropped += 1
                continue
            firsts[pair] = kh
        tally.untimed += sum(1 for h in hits if h.hit.epoch is None)
        if not firsts:
            return [], tally
        scopes: dict[str, list[float]] = {}
        for (scope, _), kh in firsts.items():
            scopes.setdefault(scope, []).append(float(kh.hit.epoch))  # type: ignore[arg-type]
        start_keys = {scope: f"fs0:{rule.id}:{group_digest(scope)}" for scope in scopes}
        value_keys = {
            pair: f"fsv:{rule.id}:{group_digest(pair[0])}:{group_digest(pair[1])}"
            for pair in firsts
        }
        got = self.state.get_values([*start_keys.values(), *value_keys.values()])
        # written for twice as long and rewritten at half: kept at least learn + 2 x remember
        # after the scope's last event (longer than any of its values), so a scope relearns
        # only once every value of it was forgotten
        keep_s = 2 * (fs.learn_s + 2 * fs.remember_s) + self.margin_s
        refresh: dict[str, tuple[str, float]] = {}
        starts: dict[str, float] = {}
        for scope, times in scopes.items():
            key = start_keys[scope]
            item = got.get(key)
            if item is None:
                text, _ = self.state.put_if_absent(
                    key, repr(min(times)), expires_at=max(times) + keep_s
                )
                starts[scope] = float(text)
            else:
                starts[scope] = float(item[0])
                if item[1] - max(times) < keep_s / 2:
                    refresh[key] = (item[0], max(times) + keep_s)
        # written for 1.5 x remember, rewritten when less than remember is left: a value is
        # remembered at least `remember` after it was last seen (at most half as long again)
        remember = fs.remember_s * 3 // 2 + self.margin_s
        out: list[Fired] = []
        for pair, kh in firsts.items():
            epoch = float(kh.hit.epoch)  # type: ignore[arg-type]
            key = value_keys[pair]
            item = got.get(key)
            new = False
            if item is None:
                learning = epoch < starts[pair[0]] + fs.learn_s
                mine = f"{epoch!r}|{kh.hit.fp}|{0 if learning else 1}"
                stored, new = self.state.put_if_absent(key, mine, expires_at=epoch + remember)
                if new:
                    if learning:
                        tally.learning += 1
                    else:
                        out.append(self._fired(rule, pair, kh, epoch, replay=False))
                    continue
                item = (stored, epoch + remember)
            parsed = _parse(item[0])
            if parsed is not None and parsed[1] == kh.hit.fp:
                if parsed[2]:  # a redelivery of the event that alerted: the same alert again
                    out.append(self._fired(rule, pair, kh, parsed[0], replay=True))
                else:
                    tally.duplicates += 1
                continue
            tally.suppressed += 1  # known value
            if item[1] - epoch < fs.remember_s:
                refresh[key] = (item[0], epoch + remember)
        if refresh:
            self.state.put_values(refresh)
        return out, tally

    @staticmethod
    def _fired(
        rule: Rule, pair: tuple[str, str], kh: KeyedHit, first: float, *, replay: bool
    ) -> Fired:
        fs = rule.first_seen
        assert fs is not None
        key = key_json([_load(pair[0]), _load(pair[1])])
        return Fired(
            alert_id=alert_id(rule.id, key, int(first)),
            key=key,
            event=kh.hit.event,
            count=1,
            first=first,
            last=first,
            replay=replay,
            context={
                "first_seen": {
                    "scope": _load(pair[0]),
                    "value": _load(pair[1]),
                    "learn_s": fs.learn_s,
                    "remember_s": fs.remember_s,
                }
            },
        )


def _load(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text
