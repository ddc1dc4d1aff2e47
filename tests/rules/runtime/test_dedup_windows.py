"""``Deduplicator.windows``: every dedup window of one engine call settled together.

The batched settlement must answer and store exactly what settling the windows one at a time
did. The reference here is the per-window algorithm as it was before the batching (a frozen copy,
``Reference``, with the four-line loop over it), run side by side with ``windows`` on random
calls — redeliveries, growing windows, escalations, expiring state, a window twice in one call.
One change was made to the copy on purpose: a window whose hits mix duplicates with new ones
resends its stored escalation as a pure replay does, with the redelivered statement that made it
(marked where it is).
On DynamoDB (the moto server) the requests of one call must not grow by several per window.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import boto3
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts.model import SEVERITIES
from engine.pipeline.state import MemoryStateStore, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.runtime.suppress import (
    COUNT_MARKS,
    FOLD_KINDS,
    FOLD_SHOWN,
    FOLD_TRACKED,
    Deduplicator,
    Firing,
    Hit,
    Tally,
    WindowJob,
    _in_order,
    build_firing,
    count_mark,
    escalating,
    folded,
    telling,
)

# -- the reference: one window at a time, as ``Deduplicator.window`` did before ``windows`` ----


class Reference:
    """A frozen copy of the per-window settlement (one ``add_once_many``, ``incr``, read and
    write per window), the behaviour ``windows`` must keep."""

    def __init__(self, state: StateStore, *, margin_s: int) -> None:
        self.state = state
        self.margin_s = margin_s

    def windows(self, jobs: list[WindowJob]) -> list[tuple[Firing | None, Tally]]:
        return [
            self.window(j.seen_ns, j.alert_id, j.key, j.start, j.window_s, j.hits, fold=j.fold)
            for j in jobs
        ]

    def window(self, seen_ns, alert_id, key, start, window_s, hits, *, fold=False):
        tally = Tally()
        state = self.state
        expires = start + window_s + self.margin_s
        new: list[Hit] = []
        dups: list[Hit] = []
        markers = [f"seen:{seen_ns}:{hit.fp}" for hit in hits]
        fresh = state.add_once_many(markers, expires_at=expires)
        for hit, marker in zip(hits, markers, strict=True):
            (new if marker in fresh else dups).append(hit)
            fresh.discard(marker)
        firing: Firing | None = None
        opened = False
        if new:
            total = state.incr(f"dd:{alert_id}", len(new), expires_at=expires)
            if total == len(new):
                firing = build_firing(alert_id, key, new, total)
                opened = True
                first = firing.first
                if first is not None and not fold:
                    state.record_max(f"df:{alert_id}", "first", -first, expires_at=expires)
            else:
                tally.suppressed += len(new)
                firing = build_firing(alert_id, key, new, total, update=True)
        if dups:
            tally.duplicates += len(dups)
            if firing is None:
                total = state.get_counts([f"dd:{alert_id}"])[f"dd:{alert_id}"]
                firing = build_firing(alert_id, key, dups, max(total, len(dups)), replay=True)
        if firing is not None and fold:
            self._fold(firing, alert_id, hits, expires, opened=opened, redelivered=dups)
        elif firing is not None and (firing.update or firing.replay):
            seen = state.read_namespace(f"df:{alert_id}").get("first")
            if seen is not None and (firing.first is None or -seen < firing.first):
                firing.first = -seen
        return firing, tally

    def _fold(self, firing, alert_id, hits, expires, *, opened, redelivered):
        state = self.state
        ns = f"df:{alert_id}"
        stored = {} if opened else state.read_namespace(ns)
        writes: dict[str, float] = {}
        seen = stored.get("first")
        if seen is not None and (firing.first is None or -seen < firing.first):
            firing.first = -seen
        elif opened and firing.first is not None:
            writes["first"] = -firing.first
        last = stored.get("last")
        if last is not None and (firing.last is None or last > firing.last):
            firing.last = last
        values: dict[str, dict[str, float]] = {kind: {} for kind in FOLD_KINDS}
        for name, number in stored.items():
            kind, sep, value = name.partition(":")
            if sep and kind in values:
                values[kind][value] = number
        for hit in sorted(hits, key=lambda h: h.epoch if h.epoch is not None else 0.0):
            if hit.facets is None:
                continue
            at = max(0.0, hit.epoch or 0.0)
            for kind, facet in zip(FOLD_KINDS, hit.facets, strict=True):
                known = values[kind]
                if facet is None or facet in known or len(known) >= FOLD_TRACKED:
                    continue
                known[facet] = at
                writes[f"{kind}:{facet}"] = at
        ranks = [h.rank for h in hits if h.rank is not None]
        announced_sev = stored.get("@sev")
        sev = max([*ranks, int(announced_sev) if announced_sev is not None else -1])
        mark = count_mark(firing.count)
        opening = "@step" not in stored
        step = int(stored.get("@step", 0))
        reasons: list[str] = []
        news: list[tuple[int, str]] = []
        for k, kind in enumerate(FOLD_KINDS):
            for i, (value, number) in enumerate(_in_order(values[kind])):
                if number < 0 or (kind != "verbs" and i >= FOLD_SHOWN):
                    continue
                if not opening:
                    reasons.append(f"new {kind[:-1]}: {value}")
                    news.append((k, value))
                writes[f"{kind}:{value}"] = values[kind][value] = -1.0 - number
        previous = SEVERITIES[int(announced_sev)] if announced_sev is not None else None
        if sev >= 0 and (announced_sev is None or sev > announced_sev):
            if not opening and previous is not None:
                reasons.append(f"severity {previous} → {SEVERITIES[sev]}")
            writes["@sev"] = sev
        if mark > int(stored.get("@count", 0)):
            if not opening:
                reasons.append(f"count passed {COUNT_MARKS[mark - 1]:,}")
            writes["@count"] = mark
        if reasons:
            step += 1
            escalation = {
                "step": step,
                "reasons": reasons,
                "previous_severity": previous or SEVERITIES[max(sev, 0)],
            }
            state.put_values({f"de:{alert_id}": (json.dumps(escalation), expires)})
            firing.context["escalation"] = escalation
            raised = announced_sev is not None and sev > announced_sev
            firing.event = telling(hits, news, sev if raised else None).event
        # the one intended change since the copy was frozen: the stored escalation is resent
        # whenever the hits include duplicates, not only on a pure replay (a redelivered batch
        # refilled with newer records brings new hits with the escalation that went undelivered),
        # showing the redelivered statement that made it rather than the latest new one
        elif (firing.replay or redelivered) and not opening:
            record = state.get_values([f"de:{alert_id}"]).get(f"de:{alert_id}")
            if record is not None:
                firing.context["escalation"] = json.loads(record[0])
                if firing.update:
                    shown = escalating(redelivered, firing.context["escalation"])
                    if shown is not None:
                        firing.event = shown.event
        if reasons or opening:
            writes["@step"] = step
        if writes:
            if firing.last is not None and (last is None or firing.last > last):
                writes["last"] = firing.last
            state.put_members((ns, name, v, expires) for name, v in writes.items())
        firing.rank = sev if sev >= 0 else None
        firing.context["folded"] = folded(values)


# -- random calls -----------------------------------------------------------------------------

# (seen namespace, dedup key, window start); error windows (``err:``) do not fold
WINDOWS = [
    (ns, key, start)
    for ns in ("r1", "r2", "err:r1")
    for key in ("a", "b")
    for start in (0, 600, 1200)
]
WINDOW_S = 600
VALUES = {kind: [f"{kind[0]}{i}" for i in range(8)] for kind in FOLD_KINDS}


def _aid(ns: str, key: str, start: int) -> str:
    return f"{ns}/{key}/{start}"


facet = st.one_of(st.none(), st.integers(0, 7))
hit_spec = st.tuples(
    st.integers(0, 40),  # fingerprint (a small pool: redeliveries, repeats)
    st.one_of(st.none(), st.floats(0, 1800, allow_nan=False)),  # event time
    st.one_of(st.none(), st.tuples(facet, facet, facet, facet)),
    st.one_of(st.none(), st.integers(0, len(SEVERITIES) - 1)),
)
job_spec = st.tuples(st.integers(0, len(WINDOWS) - 1), st.lists(hit_spec, max_size=14))
call_spec = st.lists(job_spec, max_size=8)


def _jobs(call: list[tuple[int, list[Any]]]) -> list[WindowJob]:
    jobs = []
    for w, hits in call:
        ns, key, start = WINDOWS[w]
        made = []
        for fp, epoch, facets, rank in hits:
            fs = None
            if facets is not None:
                fs = tuple(
                    None if i is None else VALUES[kind][i]
                    for kind, i in zip(FOLD_KINDS, facets, strict=True)
                )
            event = {"fp": fp, "epoch": epoch, "facets": fs, "rank": rank}
            made.append(Hit(event, epoch, f"fp{fp}", fs, rank))  # type: ignore[arg-type]
        fold = not ns.startswith("err:")
        jobs.append(WindowJob(ns, _aid(ns, key, start), key, start, WINDOW_S, made, fold=fold))
    return jobs


def _contents(store: MemoryStateStore) -> dict[str, Any]:
    return {
        "counts": store._counts,
        "markers": store._markers,
        "maxima": store._maxima,
        "values": store._values,
    }


def _answers(results: list[tuple[Firing | None, Tally]]) -> list[Any]:
    """Everything a firing says, the order of its context's keys included (what outputs see)."""
    return [(f, list(f.context) if f else None, t) for f, t in results]


@settings(max_examples=150, deadline=None)
@given(
    calls=st.lists(call_spec, min_size=1, max_size=6),
    redeliver=st.lists(st.integers(0, 5), max_size=3),
    now=st.one_of(st.none(), st.sampled_from([900.0, 1500.0])),
    margin=st.sampled_from([0, 3600]),
)
def test_windows_answers_and_stores_exactly_what_one_window_at_a_time_did(
    calls: list[Any], redeliver: list[int], now: float | None, margin: int
) -> None:
    """Random engine calls (some redelivered later, some with one window twice), on a store that
    expires state or not: the same firings — ids, counts, first/last, update/replay, folded,
    escalation, event, rank — the same tallies, and the same store contents after every call."""
    sequence = [*calls, *(calls[i] for i in redeliver if i < len(calls))]
    ours, theirs = MemoryStateStore(now=now), MemoryStateStore(now=now)
    batched = Deduplicator(ours, margin_s=margin)
    reference = Reference(theirs, margin_s=margin)
    for call in sequence:
        got = batched.windows(_jobs(call))
        want = reference.windows(_jobs(call))
        assert _answers(got) == _answers(want)
        assert _contents(ours) == _contents(theirs)


def test_the_reference_and_windows_see_escalations_replays_and_repeats() -> None:
    """The random test reaches what matters: a fixed case with an escalation, its replay (the
    stored record resent), one window twice in one call and a redelivery mixed with new hits,
    each checked on its own."""
    state = MemoryStateStore()
    dedup = Deduplicator(state, margin_s=0)
    ns, key = "r1", "a"
    aid = _aid(ns, key, 0)

    def job(fps: range, verb: str, rank: int) -> WindowJob:
        hits = [Hit({"fp": i}, float(i), f"fp{i}", (verb, "t", "u", "h"), rank) for i in fps]
        return WindowJob(ns, aid, key, 0, WINDOW_S, hits, fold=True)

    (opened, _), (other, _) = dedup.windows(
        [job(range(3), "SELECT", 1), WindowJob("r2", "x", None, 0, WINDOW_S, [], fold=True)]
    )
    assert opened is not None and other is None
    assert opened.count == 3 and not opened.update and "escalation" not in opened.context
    grow = job(range(3, 5), "DROP TABLE", 3)
    ((esc, tally),) = dedup.windows([grow])
    assert esc is not None and esc.update and tally.suppressed == 2
    assert esc.context["escalation"]["step"] == 1
    assert esc.context["escalation"]["reasons"][0] == "new verb: DROP TABLE"
    assert (esc.first, esc.last, esc.count) == (0.0, 4.0, 5)
    ((again, tally),) = dedup.windows([grow])  # redelivered: the same step, read back
    assert again is not None and again.replay and tally.duplicates == 2
    assert again.context["escalation"] == esc.context["escalation"]
    # one window twice in one call: the second job counts on top of the first
    (first, _), (second, _) = dedup.windows([job(range(5, 7), "DROP TABLE", 3)] * 2)
    assert first is not None and first.count == 7 and first.update
    assert second is not None and second.replay and second.count == 7
    # redelivered hits mixed with new ones: an update, and the stored step is resent with it
    # (delivery skips it where it was sent) ...
    mixed = [*job(range(5, 7), "DROP TABLE", 3).hits, *job(range(9, 10), "SELECT", 1).hits]
    ((update, tally),) = dedup.windows([WindowJob(ns, aid, key, 0, WINDOW_S, mixed, fold=True)])
    assert update is not None and update.update and not update.replay and update.count == 8
    assert tally.duplicates == 2 and update.context["escalation"] == esc.context["escalation"]
    assert update.event == {"fp": 6}  # the latest DROP TABLE, not the newer SELECT
    # ... unless the call announces a newer step
    newer = [*job(range(9, 10), "SELECT", 1).hits, *job(range(10, 11), "DELETE", 1).hits]
    ((update, _),) = dedup.windows([WindowJob(ns, aid, key, 0, WINDOW_S, newer, fold=True)])
    assert update is not None and update.context["escalation"]["step"] == 2
    assert update.context["escalation"]["reasons"] == ["new verb: DELETE"]


def test_a_resent_escalation_shows_the_hit_that_brought_it() -> None:
    """Read back from the stored reasons: the hit that raised the severity, else one that brought
    a new value; None when no hit did (the firing keeps its own event)."""
    crit = SEVERITIES.index("critical")
    hits = [
        Hit({"n": 0}, 1.0, "a", ("SELECT", "t", "u", "h"), 1),
        Hit({"n": 1}, 2.0, "b", ("DROP TABLE", "t", "u", "h"), 3),
        Hit({"n": 2}, 3.0, "c", ("SELECT", "t: x", "u", "h"), crit),
        Hit({"n": 3}, 4.0, "d", None, None),
    ]
    raised = {"step": 2, "reasons": ["new verb: DROP TABLE", "severity high → critical"]}
    assert escalating(hits, raised) is hits[2]
    assert escalating(hits, {"step": 1, "reasons": ["new verb: DROP TABLE"]}) is hits[1]
    assert escalating(hits, {"step": 1, "reasons": ["new object: t: x"]}) is hits[2]
    assert escalating(hits, {"step": 1, "reasons": ["count passed 100"]}) is None
    assert escalating(hits, {"step": 1, "reasons": ["new user: nobody"]}) is None


def test_a_fingerprint_in_two_windows_of_one_call_is_a_duplicate_the_second_time() -> None:
    state = MemoryStateStore()
    hit = Hit({"fp": 1}, 5.0, "fp1")
    jobs = [
        WindowJob("r1", "w1", None, 0, WINDOW_S, [hit, copy.copy(hit)]),
        WindowJob("r1", "w2", None, 0, WINDOW_S, [copy.copy(hit)]),
    ]
    (one, t1), (two, t2) = Deduplicator(state).windows(jobs)
    assert one is not None and one.count == 1 and t1.duplicates == 1
    assert two is not None and two.replay and t2.duplicates == 1


# -- round trips ------------------------------------------------------------------------------


class Calls(MemoryStateStore):
    """The in-memory store, counting the store operations ``windows`` calls (round trips)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name not in ("calls", "size"):
            object.__getattribute__(self, "calls")[name] += 1
        return super().__getattribute__(name)


def _flood(n: int, start: int = 0, at: float = 0.0) -> list[WindowJob]:
    """``n`` windows, each with three new events of its own user and host."""
    return [
        WindowJob(
            "r1",
            f"w{i}",
            f"u{i}",
            start,
            WINDOW_S,
            [
                Hit({"i": i, "j": j}, at + j, f"{i}.{j}.{at}", ("LOGIN", None, f"u{i}", f"h{j}"), 1)
                for j in range(3)
            ],
            fold=True,
        )
        for i in range(n)
    ]


def test_one_call_costs_the_same_store_operations_for_3_or_300_windows() -> None:
    def ops(n: int) -> tuple[Counter[str], Counter[str]]:
        state = Calls()
        dedup = Deduplicator(state)
        dedup.windows(_flood(n))
        opened = Counter(state.calls)
        state.calls.clear()
        dedup.windows(_flood(n, at=10.0))  # every window grows (and its count passes nothing)
        return opened, state.calls

    small, big = ops(3), ops(300)
    assert small[0]["incr"] == 3 and big[0]["incr"] == 300  # one atomic add per window
    for name in ("incr", "read_namespace"):  # the memory store's per-key defaults
        for s, b in zip(small, big, strict=True):
            s.pop(name, None), b.pop(name, None)
    assert small == big
    assert big[0] == Counter({"add_once_each": 1, "incr_many": 1, "put_members": 1})
    assert big[1]["read_namespaces"] == 1 and big[1]["add_once_each"] == 1


def test_one_call_of_many_windows_on_dynamodb_costs_one_update_each_and_batches(aws) -> None:
    """Counted at botocore's ``before-send`` hook (one per HTTP attempt) on the moto server."""
    client = boto3.client("dynamodb")
    create_table(client, "windows")
    sent: Counter[str] = Counter()

    def on_send(request: Any, **_: Any) -> None:
        sent[request.headers.get("X-Amz-Target", b"?").decode().split(".")[-1]] += 1

    client.meta.events.register("before-send.dynamodb.*", on_send)
    dedup = Deduplicator(DynamoDBStateStore("windows", client))
    n = 120  # 360 markers: 4 BatchGetItem of 100, 15 BatchWriteItem of 25
    opened = dedup.windows(_flood(n))
    assert all(f is not None and not f.update and f.count == 3 for f, _ in opened)
    members = 9  # per window: first, last, verb, user, 3 hosts, @sev, @step
    assert sent == {
        "BatchGetItem": 4,
        "BatchWriteItem": 15 + -(-n * members // 25),
        "UpdateItem": n,
    }
    # the windows grow: the same, plus one Query per window's namespace (nothing new to write
    # but the last event time and the new hosts)
    sent.clear()
    grown = dedup.windows(_flood(n, at=10.0))
    assert all(f is not None and f.update and f.count == 6 for f, _ in grown)
    assert all(f is not None and f.first == 0.0 and f.last == 12.0 for f, _ in grown)
    assert sent["UpdateItem"] == n and sent["Query"] == n
    assert sent["BatchGetItem"] == 4
    assert sent["BatchWriteItem"] <= 15 + -(-n * 4 // 25)
    assert sum(sent.values()) <= 3 * n + 4 + 15 + 20  # was about 4 per window and more
    # redelivered: replays only, the counts read in one batch, nothing written
    sent.clear()
    again = dedup.windows(_flood(n, at=10.0))
    assert all(f is not None and f.replay and f.count == 6 for f, _ in again)
    assert "UpdateItem" not in sent and "BatchWriteItem" not in sent
    # markers, then the counters and the escalation records (none here) of 120 windows
    assert sent == {"BatchGetItem": 4 + 2 + 2, "Query": n}
