"""Suppression in event time: dedup windows and count thresholds, through a ``StateStore``.

Both are **idempotent**: Kinesis redelivers a whole batch when anything in it failed, so every
matching event is first recorded (``add_once_each`` for the hits of every dedup window of one
engine call, ``add_once_many`` for a threshold's) under a fingerprint of the event; an event seen
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
``df:<alert id>`` (namespace)   maximum   ``first`` = minus the window's first event time;
                                          with folding, its values and announcements too
``de:<alert id>``               value     the window's last escalation (JSON), for replays
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

**Folding and escalation** (rule alerts of dedup windows). A window's alert keeps, besides its
count, the distinct verbs, objects, users and source hosts it folded in (``context["folded"]``:
the first ``FOLD_SHOWN`` of each in first-seen order, ``more`` counting the rest) — values read
from the *redacted* event, so what the folded lists show is what redaction left. When a later
batch makes the window grow in a way a responder must see — a new verb, a new object, user or host
among the first ``FOLD_SHOWN`` of its kind, a higher (escalated) severity, or the count passing
10, 100 or 1,000 — the update carries ``context["escalation"]`` (``step`` 1, 2, … per alert id,
``reasons``, ``previous_severity``), and delivery sends it to every output once per step. A plain
update (count 3 → 4) carries no escalation and only reaches outputs that update in place.

Why verbs always escalate but objects, users and hosts only within the first five: the verbs a
rule can see are a small set (and a new one — ``DROP TABLE`` after ``CREATE TEMP TABLE`` — is the
change that matters), whereas a script touching 10,000 tables would page 10,000 times. Values
beyond the first five are counted in ``more`` and the count marks still page.

The state of a window's folding lives in the ``df:<alert id>`` namespace, so a cold start or
another shard continues it: ``<kind>:<value>`` members (at most ``FOLD_TRACKED`` per kind, one
``Query`` reads them all with ``first``) whose number is the value's first event time, stored as
``-1 - time`` once announced; ``@step``, ``@sev`` (severity rank) and ``@count`` (count marks
passed) are what the last alert sent announced. Work is per batch, not per event: one read (the
same ``Query`` the update already made for ``first``), and one batched write only when a value is
new or an escalation is announced. An escalation is derived from stored facts against stored
announcements, written *after* the facts: a batch that dies in between is redelivered, finds the
facts still unannounced and announces them with the same step; one that dies after announcing
finds ``de:<alert id>`` and sends that step again (outputs skip a step they already sent) —
whenever the window's hits include duplicates and the batch announces no newer step, also when
the redelivered batch (refilled with newer records) brings new hits too and the firing is an
update rather than a pure replay.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from engine.alerts.model import SEVERITIES
from engine.pipeline.state import StateStore

# How long after its window a key stays: the stream's retention (24 h for DAS) plus an hour, so
# an event read late (a backlog after an outage, retries) still finds its window's state. Keys
# expire in *event* time; a store that expires them by the wall clock (DynamoDB TTL) would
# otherwise restart counts for a stream running behind.
DEFAULT_MARGIN_S = 25 * 3600
THRESHOLD_BUCKETS = 10

FOLD_KINDS: tuple[str, ...] = ("verbs", "objects", "users", "hosts")
FOLD_SHOWN = 5  # values shown per kind; the rest are counted in ``more``
FOLD_TRACKED = 100  # distinct values remembered per kind and window (``more`` stops there)
FOLD_VALUE_MAX = 200  # characters of one folded value (a state key holds it)
COUNT_MARKS: tuple[int, ...] = (10, 100, 1000)  # counts whose passing is an escalation

# (verb, object, user, host) of one event; None where the event has no such value
Facets = tuple[str | None, str | None, str | None, str | None]


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
    facets: Facets | None = None  # what a dedup window folds in (from the redacted event)
    rank: int | None = None  # the event's own severity rank (the rule's ``escalate``)


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
    rank: int | None = None  # the window's highest severity rank so far (folding windows)


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


@dataclass(slots=True)
class WindowJob:
    """The hits of one dedup window from one engine call (see ``Deduplicator.window``)."""

    seen_ns: str
    alert_id: str
    key: str | None
    start: int
    window_s: int
    hits: list[Hit]
    fold: bool = False


class Deduplicator:
    """One alert per (rule, dedup key, tumbling window); later matches only count."""

    def __init__(self, state: StateStore, *, margin_s: int = DEFAULT_MARGIN_S) -> None:
        self.state = state
        self.margin_s = margin_s

    def windows(self, jobs: list[WindowJob]) -> list[tuple[Firing | None, Tally]]:
        """Every dedup window of one engine call, settled together; answered in the order given.

        Exactly what ``window`` per job in turn would answer and store, in a number of store
        round trips that does not grow with the windows (but for one ``incr`` each, sent
        concurrently): the markers of every window in one ``add_once_each``, the counters in one
        ``incr_many``, the replays' counts in one ``get_counts``, the windows' namespaces in one
        ``read_namespaces``, the escalation records in one ``get_values`` / ``put_values`` and
        every window's folded members in one ``put_members`` — the records written before the
        announcements, as the module docstring requires.

        Jobs that touch each other's state are settled one after the other, as ``window``
        would: two jobs of one window (the same alert id) count on top of each other, and two
        that share a seen marker (a fingerprint in two windows of one rule — not something the
        engine makes) decide it in turn, each with its own expiry. So the jobs go in runs
        without either, each run settled after the one before it.
        """
        out: list[tuple[Firing | None, Tally]] = []
        run: list[tuple[WindowJob, list[str]]] = []
        ids: set[str] = set()
        taken: set[str] = set()  # the markers of the run's jobs
        for job in jobs:
            markers = [f"seen:{job.seen_ns}:{hit.fp}" for hit in job.hits]
            if job.alert_id in ids or not taken.isdisjoint(markers):
                out += self._settle(run)
                run, ids, taken = [], set(), set()
            run.append((job, markers))
            ids.add(job.alert_id)
            taken.update(markers)
        if run:
            out += self._settle(run)
        return out

    def window(
        self,
        seen_ns: str,
        alert_id: str,
        key: str | None,
        start: int,
        window_s: int,
        hits: list[Hit],
        *,
        fold: bool = False,
    ) -> tuple[Firing | None, Tally]:
        """Process the hits of one window (all share ``alert_id``) from one batch, in order.

        With ``fold`` (rule alerts; each hit carries its ``facets`` and ``rank``), the firing
        also carries ``context["folded"]``, ``rank`` and, when the window grew in a way a
        responder must see, ``context["escalation"]`` (see the module docstring).
        """
        job = WindowJob(seen_ns, alert_id, key, start, window_s, hits, fold=fold)
        return self.windows([job])[0]

    def _settle(self, run: list[tuple[WindowJob, list[str]]]) -> list[tuple[Firing | None, Tally]]:
        """Windows (with their hits' seen markers) that share no alert id and no marker: each
        step is one batched store call for all of them.

        Per window the decisions are ``window``'s: a hit whose marker is new is counted, the
        counter's total says whether this call opened the window (``total == len(new)``, atomic
        across shards), a window with only duplicates is a replay of its alert."""
        state = self.state
        jobs = [job for job, _ in run]
        markers = [names for _, names in run]
        expires = [job.start + job.window_s + self.margin_s for job in jobs]
        # One batched marker write for every hit of every window (not one per event or window).
        # A fingerprint twice in a window is a duplicate the second time, as with one
        # ``add_once`` each.
        wanted = {name: exp for names, exp in zip(markers, expires, strict=True) for name in names}
        fresh = state.add_once_each(wanted) if wanted else set()
        split: list[tuple[list[Hit], list[Hit]]] = []
        for job, names in zip(jobs, markers, strict=True):
            new: list[Hit] = []
            dups: list[Hit] = []
            for hit, name in zip(job.hits, names, strict=True):
                (new if name in fresh else dups).append(hit)
                fresh.discard(name)
            split.append((new, dups))
        adds = {
            f"dd:{job.alert_id}": (len(new), exp)
            for job, (new, _), exp in zip(jobs, split, expires, strict=True)
            if new
        }
        totals = state.incr_many(adds) if adds else {}
        replays = [
            f"dd:{job.alert_id}"
            for job, (new, dups) in zip(jobs, split, strict=True)
            if dups and not new
        ]
        counts = state.get_counts(replays) if replays else {}

        results: list[tuple[Firing | None, Tally]] = []
        opened: list[bool] = []
        reads: list[str] = []  # namespaces of windows that continue: their ``first`` and folding
        for job, (new, dups), exp in zip(jobs, split, expires, strict=True):
            aid, tally = job.alert_id, Tally()
            firing: Firing | None = None
            opens = False
            if new:
                total = totals[f"dd:{aid}"]
                if total == len(new):  # this call opened the window (atomic across shards)
                    firing = build_firing(aid, job.key, new, total)
                    opens = True
                    first = firing.first
                    if first is not None and not job.fold:  # kept for the updates: the first
                        # (only rule-error windows do not fold: rare, one write each)
                        state.record_max(f"df:{aid}", "first", -first, expires_at=exp)
                else:
                    # The window's alert again (same id) with its new total: outputs that update
                    # in place (a Security Hub finding) follow the incident; the others skip the
                    # id unless the update is an escalation.
                    tally.suppressed += len(new)
                    firing = build_firing(aid, job.key, new, total, update=True)
            if dups:
                tally.duplicates += len(dups)
                if firing is None:  # a redelivery: send the window's alert again, same id
                    total = max(counts[f"dd:{aid}"], len(dups))
                    firing = build_firing(aid, job.key, dups, total, replay=True)
            if firing is not None and (firing.update or firing.replay):
                reads.append(f"df:{aid}")
            results.append((firing, tally))
            opened.append(opens)
        stored = state.read_namespaces(reads) if reads else {}

        folds: list[_Fold] = []
        for job, (firing, _), (_, dups), opens, exp in zip(
            jobs, results, split, opened, expires, strict=True
        ):
            if firing is None:
                continue
            ns = f"df:{job.alert_id}"
            if job.fold:
                folds.append(
                    _plan(
                        firing,
                        job.hits,
                        stored.get(ns, {}),
                        exp,
                        opened=opens,
                        redelivered=dups,
                    )
                )
            elif firing.update or firing.replay:
                seen = stored[ns].get("first")
                if seen is not None and (firing.first is None or -seen < firing.first):
                    firing.first = -seen
        if folds:
            self._write_folds(folds)
        return results

    def _write_folds(self, folds: list[_Fold]) -> None:
        """The folding windows' store work in three batched calls: the escalation records a
        redelivery resends, the new records, then every window's facts and announcements — the
        records first (see the module docstring)."""
        state = self.state
        wanted = [f"de:{f.firing.alert_id}" for f in folds if f.wants_record]
        records = state.get_values(wanted) if wanted else {}
        escalations = {
            f"de:{f.firing.alert_id}": (json.dumps(f.escalation), f.expires)
            for f in folds
            if f.escalation is not None
        }
        if escalations:
            state.put_values(escalations)
        members = [
            (f"df:{f.firing.alert_id}", name, v, f.expires)
            for f in folds
            for name, v in f.writes.items()
        ]
        if members:
            state.put_members(members)
        for f in folds:
            firing = f.firing
            if f.escalation is not None:
                firing.context["escalation"] = f.escalation
            elif f.wants_record:
                record = records.get(f"de:{firing.alert_id}")
                if record is not None:
                    firing.context["escalation"] = json.loads(record[0])
                    if firing.update:  # mixed with new hits, whose latest is no escalation
                        shown = escalating(f.redelivered, firing.context["escalation"])
                        if shown is not None:
                            firing.event = shown.event
            firing.context["folded"] = folded(f.values)


@dataclass(slots=True)
class _Fold:
    """One folding window's decision (``_plan``), before its store work is done in a batch."""

    firing: Firing
    expires: float
    values: dict[str, dict[str, float]]
    writes: dict[str, float]  # members of ``df:<alert id>`` to write
    escalation: dict[str, Any] | None  # a new step: its record is written before ``writes``
    wants_record: bool  # redelivered hits: resend the window's last escalation, if there is one
    redelivered: list[Hit]  # the hits that are duplicates


def _plan(
    firing: Firing,
    hits: list[Hit],
    stored: dict[str, float],
    expires: float,
    *,
    opened: bool,
    redelivered: list[Hit],
) -> _Fold:
    """Fold this call's hits of one window (new and redelivered) into the window's stored state
    (``stored``: its namespace, empty when this call opened it), and decide whether the firing is
    an escalation. Sets the firing's ``first``/``last``, ``event`` and ``rank``; says what to
    write, and writes only what changed.

    ``redelivered``: the hits that are duplicates. With any, the window's stored escalation is
    resent unless this call announces a new step — whether the firing is a pure replay or an
    update: a redelivered batch is refilled with newer records, so the escalation whose delivery
    failed comes back mixed with new hits, and must not be lost to them. Delivery keys a step's
    marker by the step, so outputs that already got it skip it."""
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
    opening = "@step" not in stored  # nothing announced yet: this is the window's first alert
    step = int(stored.get("@step", 0))
    reasons: list[str] = []
    news: list[tuple[int, str]] = []  # (kind index, value) announced by this step
    for k, kind in enumerate(FOLD_KINDS):
        for i, (value, number) in enumerate(_in_order(values[kind])):
            if number < 0 or (kind != "verbs" and i >= FOLD_SHOWN):
                continue  # announced already, or folded into "+N more"
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
    escalation: dict[str, Any] | None = None
    if reasons:
        step += 1
        escalation = {
            "step": step,
            "reasons": reasons,
            "previous_severity": previous or SEVERITIES[max(sev, 0)],
        }
        raised = announced_sev is not None and sev > announced_sev
        firing.event = telling(hits, news, sev if raised else None).event
    if reasons or opening:
        writes["@step"] = step
    if writes and firing.last is not None and (last is None or firing.last > last):
        writes["last"] = firing.last
    firing.rank = sev if sev >= 0 else None
    return _Fold(
        firing,
        expires,
        values,
        writes,
        escalation,
        wants_record=escalation is None and bool(redelivered) and not opening,
        redelivered=redelivered,
    )


def telling(hits: list[Hit], news: list[tuple[int, str]], raised_to: int | None) -> Hit:
    """The event an escalation shows: one that raised the severity, else one that brought a new
    verb (then object, user, host), else the latest — so the title and the SQL of the update
    show the statement that made it an escalation, not a harmless one that came after it."""
    if raised_to is not None:
        top = [h for h in hits if h.rank == raised_to]
        if top:
            return representative(top)
    for k, value in news:
        brought = [h for h in hits if h.facets is not None and h.facets[k] == value]
        if brought:
            return representative(brought)
    return representative(hits)


def escalating(hits: list[Hit], escalation: dict[str, Any]) -> Hit | None:
    """The hit among ``hits`` that shows a stored escalation (``telling``, from its reasons), or
    None when none of them brought it: an escalation resent with an update of newer hits shows
    the statement that made it, not the harmless latest one."""
    news: list[tuple[int, str]] = []
    raised: int | None = None
    for reason in escalation.get("reasons", ()):
        what, _, value = str(reason).partition(": ")
        kind = what.removeprefix("new ") + "s"
        if what.startswith("new ") and kind in FOLD_KINDS:
            news.append((FOLD_KINDS.index(kind), value))
        elif what.startswith("severity ") and " → " in what:
            name = what.rsplit(" → ", 1)[1]
            raised = SEVERITIES.index(name) if name in SEVERITIES else None
    brought = [
        h
        for h in hits
        if (raised is not None and h.rank == raised)
        or (h.facets is not None and any(h.facets[k] == v for k, v in news))
    ]
    return telling(brought, news, raised) if brought else None


def count_mark(count: int) -> int:
    """How many of ``COUNT_MARKS`` ``count`` has reached (0 below 10, 3 from 1,000)."""
    return sum(1 for m in COUNT_MARKS if count >= m)


def _in_order(known: dict[str, float]) -> list[tuple[str, float]]:
    """Values in first-seen order (event time, then text); announced ones are ``-1 - time``."""

    def when(item: tuple[str, float]) -> tuple[float, str]:
        number = item[1]
        return (number if number >= 0 else -1.0 - number, item[0])

    return sorted(known.items(), key=when)


def folded(values: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``context["folded"]``: the first ``FOLD_SHOWN`` values of each kind, and how many more."""
    out: dict[str, Any] = {}
    more: dict[str, int] = {}
    for kind in FOLD_KINDS:
        ordered = [value for value, _ in _in_order(values.get(kind, {}))]
        out[kind] = ordered[:FOLD_SHOWN]
        if len(ordered) > FOLD_SHOWN:
            more[kind] = len(ordered) - FOLD_SHOWN
    out["more"] = more
    return out


def fold_hits(hits: list[Hit]) -> dict[str, Any]:
    """``context["folded"]`` of hits alone (a window without event time keeps no state)."""
    values: dict[str, dict[str, float]] = {kind: {} for kind in FOLD_KINDS}
    for i, hit in enumerate(hits):
        for kind, value in zip(FOLD_KINDS, hit.facets or (None,) * 4, strict=True):
            if value is not None and value not in values[kind]:
                values[kind][value] = float(i)
    return folded(values)


def facets_of(event: dict[str, Any]) -> Facets:
    """What a dedup window folds in from one (redacted) event: verb (or action), object, user
    and source host, each as text cut to ``FOLD_VALUE_MAX``, None when absent."""
    das = event.get("das")
    das = das if isinstance(das, dict) else {}

    def text(value: Any) -> str | None:
        if value is None or value == "" or isinstance(value, dict | list | bool):
            return None
        return str(value)[:FOLD_VALUE_MAX]

    return (
        text(das.get("verb") or das.get("action")),
        text(das.get("object")),
        text(event.get("dbUserName") or das.get("user")),
        text(event.get("remoteHost") or das.get("sourceHost")),
    )


def representative(hits: list[Hit]) -> Hit:
    """The event an alert carries (its title, its SQL): the most recent matching event.

    One choice for every path — ``dasalert eval`` (one call over a whole capture), ``run`` and the
    Lambda (one call per batch of records) and the rule tests — so the same alert has the same
    title everywhere. The latest event is the only one every path can know without storing events:
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
