"""One batch through the whole flow: decode → normalize → evaluate → suppress → route → send.

The Kinesis handler, the Firehose handler and ``dasalert run`` all call :meth:`Pipeline.run`; the
handlers only translate its :class:`BatchResult` into their response. Every record ends in exactly
one state:

``ok``         decoded (its alerts, if any, delivered or dead-lettered);
``dropped``    decoded, no activity event (heartbeats only);
``transient``  retrying can help: KMS throttled or unreachable, the state store or an output still
               failing retryably when time ran out, or the invocation's time running short
               before the record was evaluated (``deadline``). The Kinesis handler reports
               exactly these in ``batchItemFailures``;
``permanent``  can never decode, or the rule engine raised on it (a bug) or the state store
               refused it for good: dead-lettered with the raw record, reported by a
               deduplicated alert (``pipeline``, or ``rule_error`` for an engine bug), and the
               batch moves on.

**Only a transient failure retries a record.** The state store raises typed errors
(``StateUnavailable``: throttled, 5xx, no connection; ``StatePermanentError``: no such table,
access denied). Anything else the engine raises is a bug: retrying would replay the same bug
until the record expires and block the shard behind it, so it never becomes ``transient``.

**One engine call per batch.** The events of every record of the batch go through
``Engine.process`` together (up to ``EVENTS_PER_CALL`` events a call; a bigger batch is split at
record boundaries), so state is settled once per batch: a flood of matches spread over a hundred
records costs the store requests of one call, not of a hundred. Each event carries the index of
its record (``origins``) and the engine says which records are behind each alert
(``EngineResult.sources``): an alert that cannot be delivered marks exactly those records
transient, and a redelivery of any of them emits the alert again under the same id. The state
store failing (``StateUnavailable``/``StatePermanentError``) fails the records of that call; an
engine bug makes the call's records evaluated again one by one, so only the record that trips
it is dead-lettered (the retry is safe: a second pass over an event is what a redelivery is).

**Redelivery.** Lambda redelivers everything after the lowest failed sequence number. The engine
re-emits the same alert ids for redelivered events, and ``engine.pipeline.delivery`` skips what an
output already took, so a redelivered batch sends no second Slack message, SNS message or finding.
Dead letters of a record are remembered the same way (``dlq:<resource>:<record id>``), so a poison
record is dead-lettered once however often its batch comes back.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from engine.alerts import Alert, system
from engine.alerts.model import severity_rank
from engine.alerts.redact import redact_sql
from engine.das.decoder import Decoder
from engine.das.errors import DecodeError
from engine.das.records import RawRecord
from engine.events import normalize
from engine.outputs.base import Deadline, Delivery
from engine.pipeline.delivery import Deliverer
from engine.pipeline.dlq import DeadLetters, record_message
from engine.pipeline.state import StatePermanentError, StateStore, StateUnavailable

log = logging.getLogger("dasalert.pipeline")


class RecordStatus(enum.StrEnum):
    """How one record ended (see the module docstring). String-valued, so summaries, logs and
    metric dimensions read exactly ``ok``/``dropped``/``transient``/``permanent``."""

    OK = "ok"
    DROPPED = "dropped"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


OK, DROPPED = RecordStatus.OK, RecordStatus.DROPPED
TRANSIENT, PERMANENT = RecordStatus.TRANSIENT, RecordStatus.PERMANENT
HEARTBEAT_NS = "heartbeat"
# More events than any activity record carries (they hold tens to hundreds): a record above this
# is refused whole (permanent, dead-lettered, replayable) instead of being normalized and
# evaluated event by event, which for millions of events would exhaust the function's memory.
MAX_EVENTS_PER_RECORD = 100_000
HEARTBEAT_TTL_S = 7 * 86400  # a silent resource is reported for a week, then forgotten
PIPELINE_WINDOW_S = system.PIPELINE_WINDOW_S
UNDECODABLE_RULE = system.UNDECODABLE_RULE
RULE_LOAD_RULE = system.RULE_LOAD_RULE
RUNBOOK = system.PIPELINE_RUNBOOK
# Events evaluated in one engine call: the batch's state is settled in one pass (see above). Equal
# to the stateful rules' per-call key cap (``engine.rules.runtime.stateful.MAX_KEYS_PER_CALL``; the
# pipeline may not import the rule runtime, a test keeps the two equal), so a call never leaves
# keys untracked that one call per record would have tracked.
EVENTS_PER_CALL = 5000
# Seconds kept back (beyond the Deadline's own margin) for delivery and the response: when less
# is left, the remaining records of a batch are returned unevaluated as transient (``deadline``).
EVALUATION_RESERVE_S = 10.0
# With less than this left, each decoded record is evaluated at once instead of waiting for the
# call to fill: the records decoded so far always get their engine call before the reserve is
# reached, so a batch that decodes slowly still makes progress.
EARLY_CALL_RESERVE_S = EVALUATION_RESERVE_S + 5.0
DEADLINE = "deadline"
# Reasons of records that decoded but were not evaluated (dead-lettered as ``unevaluated_record``)
ENGINE_ERROR, STATE_ERROR, STATE_UNAVAILABLE = "engine_error", "state_error", "state_unavailable"


@dataclass
class RecordOutcome:
    record_id: str
    status: RecordStatus = OK
    reason: str | None = None
    resource_id: str | None = None
    events: int = 0
    heartbeats: int = 0
    normalized: list[dict[str, Any]] | None = None  # kept only when ``run(keep_events=True)``
    claimed: str | None = None  # a payload id contradicting the stream's resource id


@dataclass
class BatchResult:
    """Everything one batch did; metrics, logs and the handlers' responses are derived from it."""

    outcomes: list[RecordOutcome] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    skipped_already_sent: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # kind -> messages
    matched: int = 0
    suppressed: int = 0
    duplicates: int = 0
    state_dropped: int = 0  # stateful-rule matches over a per-call cap: not tracked (a metric)
    resource_mismatches: int = 0  # records naming another cluster/instance than their stream
    resources_unresolved: int = 0  # resource ids whose DB identifier is unknown (no link)
    muted: int = 0  # alerts a responder's mute dropped (engine.pipeline.mutes)
    rule_errors: int = 0
    rule_load_errors: int = 0  # rule files the container could not load (detection is off)
    kms_calls: int = 0
    key_cache_hits: int = 0
    reader_fallbacks: int = 0  # messages of another shape, handed to the Encryption SDK
    reader_mismatches: int = 0  # compare mode: the native reader and the SDK disagreed
    reader_footer_mismatches: int = 0  # compare mode: only the SDK's signature check refused

    @property
    def transient_ids(self) -> list[str]:
        return [o.record_id for o in self.outcomes if o.status == TRANSIENT]

    @property
    def events(self) -> int:
        return sum(o.events for o in self.outcomes)

    @property
    def heartbeats(self) -> int:
        return sum(o.heartbeats for o in self.outcomes)

    def failed_by_reason(self) -> Counter[str]:
        return Counter(
            o.reason or "unknown" for o in self.outcomes if o.status in (TRANSIENT, PERMANENT)
        )

    def alerts_by_severity(self) -> Counter[str]:
        return Counter(a.severity for a in self.alerts)


@dataclass
class _Pending:
    """A decoded record waiting for its engine call."""

    index: int
    record: RawRecord
    outcome: RecordOutcome
    events: list[dict[str, Any]]


@dataclass
class _Failed:
    index: int
    record: RawRecord
    reason: str
    message: str
    resource_id: str | None


class Pipeline:
    """Wires the parts once per container; :meth:`run` is called once per batch.

    ``engine`` None decodes only (the Firehose handler without rule evaluation); ``router`` None
    evaluates without sending. ``can_retry`` says whether the caller can redeliver a record:
    True for Kinesis (``batchItemFailures``), False for Firehose and the CLI — there an alert
    that still fails retryably is dead-lettered instead, never dropped.
    """

    def __init__(
        self,
        decoder: Decoder,
        *,
        state: StateStore,
        engine: Any = None,
        router: Any = None,
        dead_letters: DeadLetters | None = None,
        clock: Callable[[], float] = time.time,
        can_retry: bool = True,
        rule_problems: Sequence[Any] = (),
        resources: Any = None,
        events_per_call: int = EVENTS_PER_CALL,
    ) -> None:
        self.decoder = decoder
        # Error-level problems of the rule pack this container loaded. A rule that does not load
        # detects nothing: every batch carries a pipeline alert about it (deduplicated per hour
        # by its id, so responders get a reminder, not a flood) until the pack is fixed.
        self.rule_problems = tuple(rule_problems)
        self.state = state
        self.engine = engine
        self.router = router
        self.dead_letters = dead_letters or DeadLetters()
        self.clock = clock
        self.can_retry = can_retry
        # engine.pipeline.resources.ResourceResolver: names the database of every alert
        # (``context["resource"]``) before delivery; None leaves alerts as they are.
        self.resources = resources
        self.events_per_call = max(1, events_per_call)

    # -- the batch ------------------------------------------------------------------------
    def run(
        self,
        records: Iterable[RawRecord],
        deadline: Deadline | None = None,
        *,
        keep_events: bool = False,
    ) -> BatchResult:
        deadline = deadline or Deadline()
        result = BatchResult()
        stats = self.decoder.keys.stats
        calls0, hits0 = stats.kms_calls, stats.hits
        reader = getattr(getattr(self.decoder, "messages", None), "stats", None)
        reader0 = (
            (reader.fallback, reader.mismatch, reader.footer_mismatch) if reader else (0, 0, 0)
        )
        now = self.clock()
        alerts: dict[str, Alert] = {}
        sources: dict[str, set[int]] = {}  # alert id -> outcome indices
        seen: dict[str, float] = {}  # resource id -> heartbeat time
        failed: list[_Failed] = []
        begin = getattr(self.engine, "begin_batch", None)
        if begin is not None:
            begin()  # mutes are read once per batch, at its first firing

        out_of_time = False
        pending: list[_Pending] = []
        pending_events = 0
        for index, rec in enumerate(records):
            out = RecordOutcome(rec.record_id)
            result.outcomes.append(out)
            # Deadline-aware: stop evaluating while there is still time to deliver what was
            # found and answer Lambda; the rest are retried. A timeout would lose the partial
            # batch response and make Lambda retry (and bisect) the whole batch.
            if out_of_time or (self.can_retry and not deadline.allows(EVALUATION_RESERVE_S)):
                out_of_time = True
                self._fail(out, TRANSIENT, DEADLINE)
                continue
            events = self._decode(rec, out, failed, index)
            if events is None:
                continue
            if out.resource_id:
                heard = _heard_at(events, out.heartbeats, now)
                seen[out.resource_id] = max(seen.get(out.resource_id, heard), heard)
            if keep_events:
                out.normalized = events
            if not events:
                out.status = DROPPED
                continue
            if self.engine is None:
                continue
            if pending and pending_events + len(events) > self.events_per_call:
                # a call never holds more than ``events_per_call`` events (unless one record
                # does): the stateful rules' per-call caps are sized to it
                self._evaluate(pending, result, alerts, sources, failed, deadline)
                pending, pending_events = [], 0
            pending.append(_Pending(index, rec, out, events))
            pending_events += len(events)
            short = self.can_retry and not deadline.allows(EARLY_CALL_RESERVE_S)
            if short or pending_events >= self.events_per_call:
                self._evaluate(pending, result, alerts, sources, failed, deadline)
                pending, pending_events = [], 0
        if pending:
            self._evaluate(pending, result, alerts, sources, failed, deadline)

        self._record_heartbeats(seen, now)
        for alert, indices in self._mismatch_alerts(result, now):
            alerts[alert.id] = alert
            sources.setdefault(alert.id, set()).update(indices)
        if self.rule_problems:
            result.rule_load_errors = len(self.rule_problems)
            alert = self._rule_load_alert(now)
            alerts[alert.id] = alert
        for alert, indices in self._dead_letter_records(failed, result, now):
            alerts[alert.id] = alert
            sources.setdefault(alert.id, set()).update(indices)
        result.alerts = self._enrich(list(alerts.values()), result, deadline)
        if self.router is not None and result.alerts:
            self._deliver(result, sources, deadline)
        result.kms_calls = stats.kms_calls - calls0
        result.key_cache_hits = stats.hits - hits0
        if reader is not None:
            result.reader_fallbacks = reader.fallback - reader0[0]
            result.reader_mismatches = reader.mismatch - reader0[1]
            result.reader_footer_mismatches = reader.footer_mismatch - reader0[2]
        return result

    # -- evaluate -------------------------------------------------------------------------
    def _evaluate(
        self,
        pending: list[_Pending],
        result: BatchResult,
        alerts: dict[str, Alert],
        sources: dict[str, set[int]],
        failed: list[_Failed],
        deadline: Deadline,
    ) -> None:
        """One engine call for the decoded records ``pending`` (see the module docstring)."""
        if self.can_retry and not deadline.allows(EVALUATION_RESERVE_S):
            for p in pending:  # decoded, but no time left to evaluate and deliver: retried
                self._fail(p.outcome, TRANSIENT, DEADLINE)
            return
        events = [ev for p in pending for ev in p.events]
        origins = [p.index for p in pending for _ in p.events]
        ids = ", ".join(p.record.record_id for p in pending[:5]) + (
            f" (+{len(pending) - 5} more)" if len(pending) > 5 else ""
        )
        try:
            res = self.engine.process(events, origins)
        except StateUnavailable as exc:  # throttled or unreachable: a retry may work
            log.warning("state store unavailable on records %s: %s", ids, exc)
            for p in pending:
                self._fail(p.outcome, TRANSIENT, STATE_UNAVAILABLE)
            return
        except StatePermanentError as exc:  # no table, no access: a retry cannot work
            log.error("state store refused records %s: %s", ids, exc)
            for p in pending:
                self._unevaluated(p.outcome, failed, p.index, p.record, STATE_ERROR, str(exc))
            return
        except Exception as exc:  # a bug (in a rule or the engine): never retried
            if len(pending) > 1:  # find the record that trips it: each alone
                log.warning(
                    "rule engine raised on records %s: %s; evaluating them one by one",
                    ids,
                    type(exc).__name__,
                )
                for p in pending:
                    self._evaluate([p], result, alerts, sources, failed, deadline)
                return
            # the type only: an exception's text may quote the event (the alert redacts it)
            log.error("rule engine raised on record %s: %s", ids, type(exc).__name__)
            text = redact_sql(f"{type(exc).__name__}: {exc}")
            (p,) = pending
            self._unevaluated(p.outcome, failed, p.index, p.record, ENGINE_ERROR, text)
            return
        result.matched += res.matched
        result.suppressed += res.suppressed
        result.duplicates += res.duplicates
        result.state_dropped += getattr(res, "state_dropped", 0)
        result.muted += res.muted
        result.rule_errors += res.rule_errors
        behind: dict[str, set[int]] = getattr(res, "sources", None) or {}
        every = {p.index for p in pending}
        for alert in res.alerts:
            prior = alerts.get(alert.id)
            alerts[alert.id] = alert if prior is None else _merged(prior, alert)
            # an engine that does not say (a stand-in) puts the alert on every record of the call
            sources.setdefault(alert.id, set()).update(behind.get(alert.id) or every)

    def deliver(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> BatchResult:
        """Send alerts that come from no record (the heartbeat watchdog), idempotently.

        With ``can_retry`` an alert still failing retryably is left unmarked, so the next
        scheduled run sends it again; without, it is dead-lettered.
        """
        result = BatchResult()
        result.alerts = self._enrich(list(alerts), result, deadline or Deadline())
        if self.router is not None and result.alerts:
            self._deliver(result, {}, deadline or Deadline())
        return result

    # -- decode ---------------------------------------------------------------------------
    def _decode(
        self, rec: RawRecord, out: RecordOutcome, failed: list[_Failed], index: int
    ) -> list[dict[str, Any]] | None:
        try:
            decoded = self.decoder.decode(rec)
        except DecodeError as exc:
            out.resource_id = self._resource_id(rec)
            if exc.transient:
                self._fail(out, TRANSIENT, exc.reason)
            else:
                self._fail(out, PERMANENT, exc.reason)
                failed.append(_Failed(index, rec, exc.reason, exc.message, out.resource_id))
            return None
        except Exception as exc:  # a decoder bug must not block the shard: keep the record
            log.exception("unexpected error decoding record %s", rec.record_id)
            out.resource_id = self._resource_id(rec)
            self._fail(out, PERMANENT, "internal_error")
            failed.append(
                _Failed(index, rec, "internal_error", type(exc).__name__, out.resource_id)
            )
            return None
        out.resource_id = self._resource_id(rec)
        if len(decoded.events) > MAX_EVENTS_PER_RECORD:
            reason = "too_many_events"
            self._fail(out, PERMANENT, reason)
            message = f"{len(decoded.events)} events, more than {MAX_EVENTS_PER_RECORD}"
            failed.append(_Failed(index, rec, reason, message, out.resource_id))
            return None
        out.heartbeats = decoded.heartbeats
        out.events = len(decoded.events)
        cid, iid = decoded.cluster_id, decoded.instance_id
        # KMS vouches for the stream's resource id (the encryption context), not for the ids in
        # the payload: a payload naming another database is evaluated as the stream's, flagged.
        rid = out.resource_id or ""
        if rid.startswith("cluster-"):
            if cid and cid != rid:
                out.claimed = cid
            cid = rid
        elif rid.startswith("db-"):
            if iid and iid != rid:
                out.claimed = iid
            iid = rid
        return [normalize(ev, cluster_id=cid, instance_id=iid) for ev in decoded.events]

    def _resource_id(self, rec: RawRecord) -> str | None:
        try:
            return self.decoder.resource_id(rec)
        except DecodeError:
            return None

    @staticmethod
    def _unevaluated(
        out: RecordOutcome,
        failed: list[_Failed],
        index: int,
        rec: RawRecord,
        reason: str,
        message: str,
    ) -> None:
        """A decoded record the engine could not evaluate: dead-letter it, do not retry it."""
        Pipeline._fail(out, PERMANENT, reason)
        if out.status == PERMANENT:
            failed.append(_Failed(index, rec, reason, message, out.resource_id))

    @staticmethod
    def _fail(out: RecordOutcome, status: RecordStatus, reason: str) -> None:
        if out.status == TRANSIENT:  # the first transient reason stays
            return
        out.status, out.reason = status, reason

    def _record_heartbeats(self, seen: dict[str, float], now: float) -> None:
        for rid, when in seen.items():
            try:
                self.state.record_max(HEARTBEAT_NS, rid, when, expires_at=when + HEARTBEAT_TTL_S)
            except Exception as exc:  # a missed heartbeat write only delays nothing
                log.warning("could not record the heartbeat of %s: %s", rid, type(exc).__name__)

    def _mismatch_alerts(self, result: BatchResult, now: float) -> list[tuple[Alert, set[int]]]:
        groups: dict[str, list[int]] = {}
        for i, o in enumerate(result.outcomes):
            if o.claimed is not None and o.resource_id:
                groups.setdefault(o.resource_id, []).append(i)
        result.resource_mismatches = sum(len(v) for v in groups.values())
        out = []
        for rid, indices in groups.items():
            claimed = [result.outcomes[i].claimed or "" for i in indices]
            ids = [result.outcomes[i].record_id for i in indices]
            out.append((system.resource_mismatch(rid, claimed, ids, now), set(indices)))
        return out

    # -- permanent failures: dead letters and pipeline alerts -----------------------------
    def _dead_letter_records(
        self, failed: list[_Failed], result: BatchResult, now: float
    ) -> list[tuple[Alert, set[int]]]:
        groups: dict[tuple[str, str], list[_Failed]] = {}
        for f in failed:
            out = result.outcomes[f.index]
            key = f"dlq:{f.resource_id or '-'}:{f.record.record_id}"
            kind = (
                "unevaluated_record"
                if f.reason in (ENGINE_ERROR, STATE_ERROR)
                else "undecodable_record"
            )
            try:
                try:
                    already = self.state.get_counts([key])[key]
                except StatePermanentError:  # no memory: maybe twice in the queue, never looping
                    already = 0
                if not already:
                    self.dead_letters.send(
                        record_message(f.record, f.reason, f.message, f.resource_id, kind=kind)
                    )
                    result.dead_letters[kind] += 1
                    with contextlib.suppress(StatePermanentError):
                        self._deliverer().mark(key)
            except Exception as exc:  # DeadLetterError or the state store unavailable
                log.error(
                    "could not dead-letter record %s (%s): %s",
                    f.record.record_id,
                    f.reason,
                    type(exc).__name__,
                )
                out.status, out.reason = TRANSIENT, "dead_letter_failed"
            groups.setdefault((f.resource_id or "unknown", f.reason), []).append(f)
        return [
            (self._pipeline_alert(rid, reason, items, now), {f.index for f in items})
            for (rid, reason), items in groups.items()
        ]

    def _pipeline_alert(self, rid: str, reason: str, items: list[_Failed], now: float) -> Alert:
        ids = [f.record.record_id for f in items]
        if reason == ENGINE_ERROR:
            return system.unevaluated_records(rid, items[0].message, ids, now)
        if reason == STATE_ERROR:
            return system.state_refused(rid, items[0].message, ids, now)
        return system.undecodable_records(rid, reason, items[0].message, ids, now)

    def _rule_load_alert(self, now: float) -> Alert:
        return system.rule_load_failed(self.rule_problems, now)

    # -- delivery -------------------------------------------------------------------------
    def _enrich(self, alerts: list[Alert], result: BatchResult, deadline: Deadline) -> list[Alert]:
        """Resource facts on every alert before any output renders it; never fails the batch."""
        if self.resources is None or not alerts:
            return alerts
        try:
            enriched, result.resources_unresolved = self.resources.enrich(alerts, deadline)
        except Exception as exc:  # a bug here must cost the links, not the alerts
            log.error("resource enrichment failed: %s", type(exc).__name__)
            return alerts
        return list(enriched)

    def _deliverer(self) -> Deliverer:
        return Deliverer(
            self.router,
            self.state,
            self.dead_letters,
            can_retry=self.can_retry,
            clock=self.clock,
        )

    def _deliver(
        self, result: BatchResult, sources: dict[str, set[int]], deadline: Deadline
    ) -> None:
        done = self._deliverer().deliver(result.alerts, deadline)
        result.deliveries = done.deliveries
        result.skipped_already_sent = done.already_sent
        result.dead_letters["undeliverable_alert"] += done.dead_lettered
        for aid, reason in done.retry.items():
            for i in sources.get(aid, ()):
                self._fail(result.outcomes[i], TRANSIENT, reason)


def _merged(earlier: Alert, later: Alert) -> Alert:
    """One alert id from two engine calls of one batch (a batch split in calls): the later
    update, keeping what the earlier one announced.

    The engine stores an escalation as announced when it emits it, so an escalation of the first
    call that the second call's plain update replaced would never page. The merged alert keeps
    the escalation — the later step, with every reason of both — and the higher severity; when
    only the earlier call escalated, it also keeps that call's event and title (the statement
    that made it an escalation).
    """
    first, second = earlier.escalation, later.escalation
    if first is None:
        return later
    severity = max(earlier.severity, later.severity, key=severity_rank)
    if second is None:
        context = {**later.context, "escalation": first}
        return replace(
            later, context=context, event=earlier.event, title=earlier.title, severity=severity
        )
    reasons = list(dict.fromkeys([*first.get("reasons", []), *second.get("reasons", [])]))
    escalation = {
        **second,
        "reasons": reasons,
        "previous_severity": first.get("previous_severity", second.get("previous_severity")),
    }
    return replace(later, context={**later.context, "escalation": escalation}, severity=severity)


def _heard_at(events: Sequence[dict[str, Any]], heartbeats: int, now: float) -> float:
    """The time a record shows its resource alive, for the heartbeat watchdog.

    Heartbeats carry no time, so a record with heartbeats counts as heard now. A record of
    activity events only is as recent as its newest event, never later than this invocation's
    clock: a captured old record put on the stream again (or one whose events claim a future
    time) must not make a silent resource look alive.
    """
    if heartbeats:
        return now
    times = [
        t for ev in events if isinstance(t := (ev.get("das") or {}).get("epoch"), (int, float))
    ]
    return min(max(times), now) if times else now


def summarize(result: BatchResult) -> dict[str, Any]:
    """The numbers a person wants after a run (CLI summary, one log line per batch)."""
    statuses = Counter(o.status for o in result.outcomes)
    return {
        "records": len(result.outcomes),
        "records_ok": statuses[OK],
        "records_dropped": statuses[DROPPED],
        "events": result.events,
        "heartbeats": result.heartbeats,
        "alerts": len(result.alerts),
        "alerts_by_severity": dict(result.alerts_by_severity()),
        "failed_transient": statuses[TRANSIENT],
        "failed_permanent": statuses[PERMANENT],
        "failed_by_reason": dict(result.failed_by_reason()),
        "deliveries": dict(Counter(f"{d.output}:{d.status.value}" for d in result.deliveries)),
        "already_sent": result.skipped_already_sent,
        "muted": result.muted,
        "resource_mismatches": result.resource_mismatches,
        "resources_unresolved": result.resources_unresolved,
        "dead_letters": dict(result.dead_letters),
        "kms_calls": result.kms_calls,
        "key_cache_hits": result.key_cache_hits,
        "reader_fallbacks": result.reader_fallbacks,
        "reader_mismatches": result.reader_mismatches,
    }


def chunks(records: Iterable[RawRecord], size: int) -> Iterable[Sequence[RawRecord]]:
    """Batches of ``size`` records (the CLI feeds big files through the pipeline in chunks)."""
    batch: list[RawRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
