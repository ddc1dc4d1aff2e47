"""The engine: normalized events in, suppressed and redacted alerts out.

One ``Engine`` serves the Lambda, ``dasalert eval`` and ``dasalert test`` alike (the rule tests
run through exactly this class), so what a rule author tests is what production does.

For each event the ``RuleSet`` says which rules match; matches are then grouped and suppressed
(``engine.rules.runtime.suppress``) in *event time* — ``das.epoch``, never the wall clock — so
replays of old captures and tests are deterministic. Alerts are built here, once, from the
**redacted** event: no output ever sees what redaction masked.

Rule kinds of suppression:

* a rule with ``threshold`` alerts when ``count`` matching events of one group fall in a sliding
  window, once per group per window;
* a rule with ``dedup`` alerts once per (dedup key, tumbling window); a later batch with more
  matches of the window emits the *same* alert (same id, ``context.update``) with the window's
  new ``count`` and its true ``first_seen``: outputs that update in place (Security Hub) follow
  the incident, the others skip an id they already sent — unless the update is an escalation
  (``context.escalation``: a new verb, object, user or host, a higher severity, the count passing
  10/100/1,000), which every output gets once per step; the alert carries what the window folded
  in (``context.folded``) and the window's highest severity so far;
* a rule with neither alerts on every matching event (the alert id is derived from the event, so a
  redelivered batch still gives the same ids).

Events without ``das.epoch`` (an unparseable ``logTime``) are still evaluated and still alert:
their dedup works within the batch only (window start 0, no state, since no window can be
placed), and threshold rules cannot count them (``EngineResult.untimed``).

A rule that raises while evaluating an event becomes a ``rule_error`` alert, deduplicated per rule
per hour of event time, and is counted in ``EngineResult.rule_errors``.

**Mutes** (written by responders from Slack or ``dasalert mute``, see ``engine.pipeline.mutes``)
drop a rule's alert when a mute of its rule — for the alert's dedup/group key, or for the whole
rule — holds at the alert's event time. Suppression state is still kept (windows still count),
so an alert after the mute carries the true count. The mutes are read from the store once, at
the first firing after ``begin_batch`` (no read at all for a batch that fires nothing), and
counted in ``EngineResult.muted``. Rule errors are never muted: a broken rule detects nothing.
A store that cannot be read fails open (the batch alerts as if nothing were muted).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.alerts.facts import runbook_excerpt
from engine.alerts.ids import alert_id
from engine.alerts.model import SEVERITIES, Alert, severity_rank
from engine.alerts.redact import redact_event, redact_sql
from engine.alerts.render import render_title
from engine.pipeline.state import Mute, StateError, StateStore
from engine.rules.model import Rule
from engine.rules.runtime.distinct import DistinctCounter
from engine.rules.runtime.first_seen import FirstSeenTracker, pair_key
from engine.rules.runtime.ruleset import RuleSet, is_true
from engine.rules.runtime.sequence import SequenceTracker
from engine.rules.runtime.stateful import Fired, KeyedHit, StatefulTally
from engine.rules.runtime.suppress import (
    DEFAULT_MARGIN_S,
    Deduplicator,
    Firing,
    Hit,
    Tally,
    WindowJob,
    facets_of,
    fingerprint,
    fold_hits,
    key_json,
    representative,
    window_start,
)
from engine.rules.runtime.threshold import ThresholdCounter

log = logging.getLogger("dasalert.engine")

RULE_ERROR_WINDOW_S = 3600
RULE_ERROR_KEY = "rule_error"  # never a JSON text, so never equal to a rule's own dedup key
RULE_ERROR_SEVERITY = "medium"
_MAX_ERROR_TEXT = 500


@dataclass
class EngineResult:
    """What one ``process`` call produced; every match is accounted for in one counter."""

    alerts: list[Alert]
    matched: int = 0
    suppressed: int = 0
    rule_errors: int = 0
    events: int = 0
    duplicates: int = 0  # matches already counted by an earlier (redelivered) batch
    below_threshold: int = 0
    untimed: int = 0  # threshold matches without event time (cannot be counted)
    invalid: int = 0  # items that were not event dicts (reported in ``errors``)
    learning: int = 0  # first-seen values learned (no alert: the learning period)
    pending: int = 0  # sequence / distinct-count matches tracked, nothing fired (yet)
    state_dropped: int = 0  # stateful matches over a per-call cap: not tracked
    muted: int = 0  # alerts a responder's mute dropped
    errors: list[str] = field(default_factory=list)  # "rule-id: Type: message" (redacted)
    # alert id -> the origins (``process(origins=...)``) of the events behind it; empty when
    # the caller gave no origins
    sources: dict[str, set[int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Window:
    rule: Rule
    kind: str
    key: str | None
    start: int
    window_s: int
    timed: bool
    hits: list[Hit] = field(default_factory=list)
    error: str | None = None


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return stamp.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _epoch(event: dict[str, Any]) -> float | None:
    das = event.get("das")
    value = das.get("epoch") if isinstance(das, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    return None


class Engine:
    """Evaluate, suppress and build alerts; ``state`` is shared by every invocation."""

    def __init__(
        self,
        ruleset: RuleSet,
        state: StateStore,
        *,
        keep_params: bool = False,
        margin_s: int = DEFAULT_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ruleset = ruleset
        self.clock = clock  # only for mutes of alerts without event time
        self.state = state
        self.keep_params = keep_params
        self._dedup = Deduplicator(state, margin_s=margin_s)
        self._thresholds = ThresholdCounter(state, margin_s=margin_s)
        self._sequences = SequenceTracker(state, margin_s=margin_s, redact=self._redact)
        self._first_seen = FirstSeenTracker(state, margin_s=margin_s)
        self._distinct = DistinctCounter(state, margin_s=margin_s)
        self._redacted: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._mutes: list[Mute] | None = None  # None: not read since ``begin_batch``

    def begin_batch(self) -> None:
        """Forget the mutes read so far: the next firing reads them again (once per batch).

        The pipeline calls this at the start of each batch; a caller that never does (a rule
        test, ``dasalert eval``) reads them once for the life of the engine.
        """
        self._mutes = None

    def _muted(self, rule: Rule, firing: Firing) -> bool:
        if self._mutes is None:
            try:
                self._mutes = self.state.list_mutes()
            except StateError as exc:
                # Fail open: a store that cannot say what is muted must not hold back alerts
                # (a mute is a convenience; a lost or delayed alert is the failure to avoid).
                log.warning("mutes unreadable, alerting as if none: %s", type(exc).__name__)
                self._mutes = []
        if not self._mutes:
            return False
        at = firing.last if firing.last is not None else firing.first
        when = at if at is not None else self.clock()
        return any(m.applies(rule.id, firing.key, when) for m in self._mutes)

    def _redact(self, event: dict[str, Any]) -> dict[str, Any]:
        """The redacted copy of ``event``, made once per ``process`` call: one hostile event can
        match (or break) many rules, and redacting it costs up to ~0.5 s (64 KiB of SQL)."""
        key = id(event)
        hit = self._redacted.get(key)
        if hit is None or hit[0] is not event:
            hit = (event, redact_event(event, keep_params=self.keep_params))
            self._redacted[key] = hit
        return hit[1]

    def process(
        self, events: Iterable[dict[str, Any]], origins: Sequence[int] | None = None
    ) -> EngineResult:
        """Evaluate ``events`` and settle their state in one pass.

        ``origins`` (one per event: the index of the Kinesis record it came from) lets a caller
        hand over a whole batch and still know which records each alert comes from
        (``EngineResult.sources``): the pipeline retries exactly those when the alert cannot be
        delivered. The records of an alert are those of every hit of its dedup window,
        threshold group or stateful key in this call — a redelivery of any of them emits the
        alert again (same id), so retrying them cannot lose it.
        """
        self._redacted = {}
        try:
            return self._process(events, origins)
        finally:
            self._redacted = {}

    def _process(
        self, events: Iterable[dict[str, Any]], origins: Sequence[int] | None
    ) -> EngineResult:
        result = EngineResult(alerts=[])
        origin_of: dict[int, int] = {}  # id(event) -> its origin (events live through the call)
        windows: dict[str, _Window] = {}
        thresholds: dict[str, tuple[Rule, list[tuple[str, Hit]]]] = {}
        stateful: dict[str, tuple[Rule, list[KeyedHit]]] = {}
        search = self.ruleset.search
        order = 0
        for position, event in enumerate(events):
            result.events += 1
            if not isinstance(event, dict):  # normalize() always gives a dict: a caller bug
                result.invalid += 1
                result.errors.append(f"not an event: a {type(event).__name__} (skipped)")
                continue
            evaluation = self.ruleset.evaluate_all(event)
            if not evaluation.matches and not evaluation.errors:
                continue
            if origins is not None:
                origin_of[id(event)] = origins[position]
            epoch = _epoch(event)
            fp: str | None = None
            # Keys and groups are read from the redacted event: they reach the alert (its
            # dedup_key, context.group) and so SNS, the console and the dead-letter queue.
            redacted: dict[str, Any] | None = None
            for match in evaluation.matches:
                rule = match.rule
                result.matched += 1
                fp = fp or fingerprint(event)
                try:
                    if _is_stateful(rule):
                        kh = self._keyed(rule, event, Hit(event, epoch, fp), order)
                        order += 1
                        if kh is not None:
                            stateful.setdefault(rule.id, (rule, []))[1].append(kh)
                        continue
                    if rule.threshold is not None:
                        group_by = rule.threshold.group_by
                        if group_by is not None and redacted is None:
                            redacted = self._redact(event)
                        group = key_json(search(group_by, redacted) if group_by else None)
                        thresholds.setdefault(rule.id, (rule, []))[1].append(
                            (group, Hit(event, epoch, fp))
                        )
                        continue
                    key = None
                    if rule.dedup is not None and rule.dedup.key is not None:
                        if redacted is None:
                            redacted = self._redact(event)
                        key = key_json(search(rule.dedup.key, redacted))
                except Exception as exc:  # a broken key expression is a rule error too
                    result.matched -= 1
                    self._add_error(windows, result, rule, event, epoch, fp, exc)
                    continue
                self._add_match(windows, rule, key, event, epoch, fp)
            for err in evaluation.errors:
                fp = fp or fingerprint(event)
                self._add_error(windows, result, err.rule, event, epoch, fp, err.error)

        tally = Tally()

        def source(alert: Alert, hits: Iterable[Hit]) -> None:
            if origins is not None:
                found = {origin_of[id(h.event)] for h in hits if id(h.event) in origin_of}
                result.sources.setdefault(alert.id, set()).update(found)

        for win, firing in self._windows(windows, tally):
            if firing is not None and win.kind == "rule" and self._muted(win.rule, firing):
                result.muted += 1
            elif firing is not None:
                alert = self._alert(win.rule, firing, kind=win.kind, error=win.error)
                result.alerts.append(alert)
                source(alert, win.hits)
        for rule, hits in thresholds.values():
            th = rule.threshold
            assert th is not None

            def make_id(group: str, start: int, _rid: str = rule.id) -> str:
                return alert_id(_rid, group, start)

            firings, t = self._thresholds.process(rule.id, th.count, th.window_s, hits, make_id)
            tally.add(t)
            for th_firing in firings:
                if self._muted(rule, th_firing):
                    result.muted += 1
                else:
                    alert = self._alert(rule, th_firing)
                    result.alerts.append(alert)
                    source(alert, (h for g, h in hits if g == th_firing.key))
        st = StatefulTally()
        for rule, khs in stateful.values():
            fired, t2 = self._stateful(rule, khs)
            for name in ("duplicates", "untimed", "dropped", "learning", "pending", "suppressed"):
                setattr(st, name, getattr(st, name) + getattr(t2, name))
            for f in fired:
                made = _firing(f)
                if self._muted(rule, made):
                    result.muted += 1
                else:
                    alert = self._alert(rule, made)
                    result.alerts.append(alert)
                    source(alert, (kh.hit for kh in khs if _fired_key(rule, kh) == f.key))
        result.suppressed = tally.suppressed + st.suppressed
        tally.duplicates += st.duplicates
        tally.untimed += st.untimed
        result.learning = st.learning
        result.pending = st.pending
        result.state_dropped = st.dropped
        result.duplicates = tally.duplicates
        result.below_threshold = tally.below_threshold
        result.untimed = tally.untimed
        return result

    # -- stateful rule types -------------------------------------------------------------

    def _keyed(self, rule: Rule, event: dict[str, Any], hit: Hit, order: int) -> KeyedHit | None:
        """The key (and value, steps) a stateful rule tracks this event under; None to skip.

        Raises what the rule's expressions raise: the caller turns it into a rule error.
        """
        search = self.ruleset.search
        if rule.sequence is not None:
            seq = rule.sequence
            key = key_json(search(seq.by, event) if seq.by is not None else None)
            steps = tuple(i for i, s in enumerate(seq.steps) if is_true(search(s.when, event)))
            return KeyedHit(key, hit, order, steps=steps) if steps else None
        if rule.first_seen is not None:
            fs = rule.first_seen
            value = search(fs.key, event)
            if (
                value is None
                or value == []
                or (isinstance(value, list) and all(v is None for v in value))
            ):
                return None  # nothing to learn: an event without the value
            scope = key_json(search(fs.scope, event) if fs.scope is not None else None)
            return KeyedHit(scope, hit, order, value=key_json(value))
        th = rule.threshold
        assert th is not None and th.distinct is not None
        value = search(th.distinct, event)
        if value is None:
            return None
        group = key_json(search(th.group_by, event) if th.group_by is not None else None)
        return KeyedHit(group, hit, order, value=key_json(value))

    def _stateful(self, rule: Rule, khs: list[KeyedHit]) -> tuple[list[Fired], StatefulTally]:
        if rule.sequence is not None:
            return self._sequences.process(rule, khs)
        if rule.first_seen is not None:
            return self._first_seen.process(rule, khs)
        return self._distinct.process(rule, khs)

    # -- grouping -------------------------------------------------------------------------

    def _add_match(
        self,
        windows: dict[str, _Window],
        rule: Rule,
        key: str | None,
        event: dict[str, Any],
        epoch: float | None,
        fp: str,
    ) -> None:
        if rule.dedup is None:
            # every match is its own alert; the id comes from the event so redelivery repeats it
            start = int(epoch) if epoch is not None else 0
            aid = alert_id(rule.id, fp, start)
            win = windows.get(aid) or windows.setdefault(
                aid, _Window(rule, "rule", None, start, 0, timed=False)
            )
        else:
            window_s = rule.dedup.window_s
            start = window_start(epoch, window_s) if epoch is not None else 0
            aid = alert_id(rule.id, key if key is not None else "", start)
            win = windows.get(aid) or windows.setdefault(
                aid, _Window(rule, "rule", key, start, window_s, timed=epoch is not None)
            )
        win.hits.append(Hit(event, epoch, fp))

    def _add_error(
        self,
        windows: dict[str, _Window],
        result: EngineResult,
        rule: Rule,
        event: dict[str, Any],
        epoch: float | None,
        fp: str,
        error: Exception | str,
    ) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        text = redact_sql(text)[:_MAX_ERROR_TEXT]
        result.rule_errors += 1
        result.errors.append(f"{rule.id}: {text}")
        start = window_start(epoch, RULE_ERROR_WINDOW_S) if epoch is not None else 0
        aid = alert_id(rule.id, RULE_ERROR_KEY, start)
        win = windows.setdefault(
            aid,
            _Window(rule, "rule_error", None, start, RULE_ERROR_WINDOW_S, epoch is not None),
        )
        win.error = win.error or text
        win.hits.append(Hit(event, epoch, fp))

    def _windows(
        self, windows: dict[str, _Window], tally: Tally
    ) -> list[tuple[_Window, Firing | None]]:
        """Every window's firing, in the order the windows opened; the timed ones are settled
        against the store together (``Deduplicator.windows``), not one window at a time."""
        out: list[tuple[_Window, Firing | None]] = []
        timed: list[int] = []
        jobs: list[WindowJob] = []
        for aid, win in windows.items():
            fold = win.kind == "rule" and win.rule.dedup is not None
            if fold:  # what the window folds in, from the redacted event, and each severity
                for h in win.hits:
                    h.facets = facets_of(self._redact(h.event))
                    h.rank = severity_rank(self._severity(win.rule, h.event))
            if not win.timed:  # no state can be kept: one alert per id per batch
                times = [h.epoch for h in win.hits if h.epoch is not None]
                untimed = Firing(
                    aid,
                    win.key,
                    representative(win.hits).event,
                    len(win.hits),
                    min(times) if times else None,
                    max(times) if times else None,
                    context={"folded": fold_hits(win.hits)} if fold else {},
                    rank=max((h.rank or 0) for h in win.hits) if fold else None,
                )
                out.append((win, untimed))
                continue
            seen_ns = f"err:{win.rule.id}" if win.kind == "rule_error" else win.rule.id
            timed.append(len(out))
            out.append((win, None))
            jobs.append(
                WindowJob(seen_ns, aid, win.key, win.start, win.window_s, win.hits, fold=fold)
            )
        if jobs:
            for i, (firing, t) in zip(timed, self._dedup.windows(jobs), strict=True):
                out[i] = (out[i][0], firing)
                tally.add(t)
        return out

    # -- alerts ---------------------------------------------------------------------------

    def _severity(self, rule: Rule, event: dict[str, Any]) -> str:
        """``escalate``: the first entry whose ``when`` holds on the alert's (unredacted) event.

        Judged on the event the alert shows (a threshold's or sequence's last one). An entry that
        raises is skipped: escalation may raise a severity, never lose the alert.
        """
        for entry in rule.escalate:
            try:
                if is_true(self.ruleset.search(entry.when, event)):
                    return entry.severity
            except Exception:
                continue
        return rule.severity

    def _alert(
        self, rule: Rule, firing: Firing, *, kind: str = "rule", error: str | None = None
    ) -> Alert:
        event = self._redact(firing.event)
        context = dict(firing.context)
        if firing.replay:
            context["replay"] = True
        if firing.update:
            context["update"] = True
        if kind == "rule_error":
            title = f"Rule {rule.id} failed to evaluate"
            severity = RULE_ERROR_SEVERITY
            context.update(error=error, rule_file=rule.file, rule_line=rule.line)
            outputs = None
        else:
            title = render_title(rule.title, event)
            severity = self._severity(rule, firing.event)
            if firing.rank is not None and firing.rank > severity_rank(severity):
                severity = SEVERITIES[firing.rank]  # a window keeps its highest severity
            outputs = rule.outputs
            if rule.runbook and (excerpt := runbook_excerpt(rule.file, rule.runbook)):
                context["runbook_excerpt"] = excerpt  # a shipped file's first lines (cached)
        return Alert(
            id=firing.alert_id,
            rule_id=rule.id,
            title=title,
            severity=severity,
            event=event,
            kind=kind,
            rule_title=rule.title,
            description=rule.description,
            status=rule.status,
            tags=rule.tags,
            references=rule.references,
            runbook=rule.runbook,
            dedup_key=firing.key,
            count=firing.count,
            first_seen=iso(firing.first),
            last_seen=iso(firing.last),
            outputs=outputs,
            context=context,
        )


def _firing(f: Fired) -> Firing:
    return Firing(
        alert_id=f.alert_id,
        key=f.key,
        event=f.event,
        count=f.count,
        first=f.first,
        last=f.last,
        replay=f.replay,
        context=dict(f.context),
    )


def _fired_key(rule: Rule, kh: KeyedHit) -> str:
    """The ``Fired.key`` an alert of ``kh`` carries: a first-seen alert is keyed by its (scope,
    value) pair, the other stateful types by the hit's key."""
    return kh.key if rule.first_seen is None else pair_key(kh.key, kh.value)


def _is_stateful(rule: Rule) -> bool:
    """Sequence, first-seen and distinct-count rules keep their own state (not dedup's)."""
    th = rule.threshold
    return bool(rule.sequence or rule.first_seen or (th is not None and th.distinct is not None))
