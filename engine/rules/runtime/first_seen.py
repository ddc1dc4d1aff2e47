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

**Dormant values** (``dormant: 30d``): the item holds when the value was *last* seen instead
(rewritten once it is ``dormant_step_s`` out of date: a day, or a tenth of ``dormant``), and a
known value seen again after ``dormant`` plus that step of silence alerts: a dormant account
back. Values never seen before are only remembered (a new account is another rule's business),
so no learning period is needed. The silence is judged in event time from the recorded
sighting, not from the item's expiry (DynamoDB deletes expired items days late). Exactly one
event alerts per return: it claims ``fsd:<rule>:<scope>:<value>:<last seen>`` with a
conditional write, so two invocations reading the same old sighting cannot both alert.

**Per batch**: one batched read of every scope start and value the batch touches; a conditional
write (``put_if_absent``) only for a value not already known — that write decides, across
concurrent invocations, which event is the first (exactly one alerts). A redelivered first event
finds its own fingerprint in the item and emits the same alert again (same id, ``replay``) —
whichever event of the batch is the value's earliest: every event of a known value is compared
with the stored fingerprint (no further read), as a redelivered batch may hold newer records
with an earlier event for the same value.
"""

from __future__ import annotations

from engine.alerts.ids import alert_id
from engine.pipeline.state import StateStore
from engine.rules.model import FirstSeen, Rule, dormant_step_s
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


def _parse_dormant(text: str) -> tuple[float, str, tuple[float, float] | None] | None:
    """``last seen|-|0``, or ``last seen|fingerprint|return time:silent since`` once a return
    alerted (kept through later sightings, so a redelivered return re-sends the same alert)."""
    parts = text.split("|")
    if len(parts) != 3:
        return None
    try:
        if parts[2] == "0":
            return float(parts[0]), parts[1], None
        at, since = parts[2].split(":")
        return float(parts[0]), parts[1], (float(at), float(since))
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
        # every event of each pair, in time order: a dormant rule judges each gap between them
        series: dict[tuple[str, str], list[KeyedHit]] = {}
        for kh in sorted(
            (h for h in hits if h.hit.epoch is not None), key=lambda h: (h.hit.epoch, h.order)
        ):
            pair = (kh.key, kh.value or "null")
            if pair in firsts:
                series[pair].append(kh)
                continue
            if len(firsts) >= MAX_KEYS_PER_CALL:
                tally.dropped += 1
                continue
            firsts[pair] = kh
            series[pair] = [kh]
        tally.untimed += sum(1 for h in hits if h.hit.epoch is None)
        if not firsts:
            return [], tally
        if fs.dormant_s is not None:
            return self._dormant(rule, fs, series, tally)
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
            # every event of the pair, not only the earliest: a redelivered batch is refilled
            # with newer records, whose event for the pair may carry an earlier time (another
            # instance's clock) and come first; the event that fired must still re-send
            fired_fp = parsed[1] if parsed is not None else None
            mine_again = next((k for k in series[pair] if k.hit.fp == fired_fp), None)
            if parsed is not None and mine_again is not None:
                if parsed[2]:  # a redelivery of the event that alerted: the same alert again
                    out.append(self._fired(rule, pair, mine_again, parsed[0], replay=True))
                else:
                    tally.duplicates += 1
                if mine_again is kh:
                    continue
            tally.suppressed += 1  # known value
            if item[1] - epoch < fs.remember_s:
                refresh[key] = (item[0], epoch + remember)
        if refresh:
            self.state.put_values(refresh)
        return out, tally

    def _dormant(
        self,
        rule: Rule,
        fs: FirstSeen,
        series: dict[tuple[str, str], list[KeyedHit]],
        tally: StatefulTally,
    ) -> tuple[list[Fired], StatefulTally]:
        """Known values seen again after ``dormant`` of silence (see the module docstring)."""
        dormant = fs.dormant_s
        assert dormant is not None
        gap = dormant + dormant_step_s(dormant)
        step = dormant_step_s(dormant)
        keep = fs.remember_s * 3 // 2 + self.margin_s
        value_keys = {
            pair: f"fsv:{rule.id}:{group_digest(pair[0])}:{group_digest(pair[1])}"
            for pair in series
        }
        got = self.state.get_values(list(value_keys.values()))
        writes: dict[str, tuple[str, float]] = {}
        out: list[Fired] = []
        for pair, khs in series.items():
            key = value_keys[pair]
            item = got.get(key)
            parsed = _parse_dormant(item[0]) if item is not None else None
            if parsed is None:  # never seen (or forgotten, or unreadable): history starts here
                seen, ret_fp, ret = None, "-", None
                tally.learning += 1
            else:
                seen, ret_fp, ret = parsed
            last = seen
            for kh in khs:
                epoch = float(kh.hit.epoch)  # type: ignore[arg-type]
                if ret is not None and kh.hit.fp == ret_fp:  # the return that alerted, again
                    out.append(self._fired(rule, pair, kh, ret[0], replay=True, last_seen=ret[1]))
                elif last is not None and epoch - last >= gap:
                    slot = f"fsd:{rule.id}:{group_digest(pair[0])}:{group_digest(pair[1])}:{last!r}"
                    owner, won = self.state.put_if_absent(slot, kh.hit.fp, expires_at=epoch + keep)
                    if won or owner == kh.hit.fp:  # one event per return, across invocations
                        out.append(
                            self._fired(rule, pair, kh, epoch, replay=not won, last_seen=last)
                        )
                        ret_fp, ret = kh.hit.fp, (epoch, last)
                    else:
                        tally.suppressed += 1
                else:
                    tally.suppressed += 1
                last = epoch if last is None else max(last, epoch)
            assert last is not None
            if (
                item is None
                or parsed is None
                or (ret is not None and ret != parsed[2])
                or last - (seen or 0.0) >= step
                or item[1] - last < fs.remember_s
            ):
                text = f"{last!r}|{ret_fp}|" + (f"{ret[0]!r}:{ret[1]!r}" if ret else "0")
                writes[key] = (text, last + keep)
        if writes:
            self.state.put_values(writes)
        return out, tally

    @staticmethod
    def _fired(
        rule: Rule,
        pair: tuple[str, str],
        kh: KeyedHit,
        first: float,
        *,
        replay: bool,
        last_seen: float | None = None,
    ) -> Fired:
        fs = rule.first_seen
        assert fs is not None
        key = pair_key(*pair)
        context: dict[str, object] = {
            "scope": _load(pair[0]),
            "value": _load(pair[1]),
            "learn_s": fs.learn_s,
            "remember_s": fs.remember_s,
        }
        if fs.dormant_s is not None:
            context["dormant_s"] = fs.dormant_s
            if last_seen is not None:
                context["last_seen"] = _iso(last_seen)
                context["silent_days"] = int((first - last_seen) // 86400)
        return Fired(
            alert_id=alert_id(rule.id, key, int(first)),
            key=key,
            event=kh.hit.event,
            count=1,
            first=first,
            last=first,
            replay=replay,
            context={"first_seen": context},
        )


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pair_key(scope: str, value: str | None) -> str:
    """The key of a first-seen alert: its (scope, value) pair as one JSON text (the engine
    matches its hits to it, to know the records behind the alert)."""
    return key_json([_load(scope), _load(value or "null")])


def _load(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text
