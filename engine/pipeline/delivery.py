"""Idempotent delivery: route alerts, skip what was already delivered, send, settle each result.

Lambda redelivers whole stretches of a shard, and the rule engine then re-emits the same alert
ids. This module remembers, per output, which alert ids were delivered (a ``sent:<output>:<id>``
counter in the ``StateStore``, written after a successful send) and skips them, so a redelivered
batch sends no second Slack message, SNS message or finding. Outputs that update in place
(Security Hub) are remembered per id *and count*: the finding follows the incident as it grows.
An escalation (an update that grew in a way a responder must see, ``alert.escalation``) is
remembered per id *and step* (``…:e<step>``) by every output: each step reaches every routed output
once — a Slack thread reply, an SNS update document, a re-imported finding — while a plain update
(count 3 → 4) still reaches only the outputs that update in place, and a redelivered batch, which
carries the same step, sends nothing twice. Outputs that keep their own state about alerts (the
Slack thread of an alert) get the state store through ``bind_state``.
The window between a send and its marker is the only place a crash can repeat an alert (at
least once, never lost); the markers of a batch are written together, in one batched write, once
every output has answered.

Each output's answer per alert is settled here:

* delivered → marked;
* retryable → returned in ``DeliveryResult.retry`` when the caller can redeliver (Kinesis), so
  the records behind it are retried; otherwise dead-lettered (Firehose, the CLI);
* permanent → dead-lettered with the reason, and marked so a redelivery does not repeat it;
* a dead-letter queue that is down → in ``retry`` too: an alert is never dropped.

A state store that refuses for good (``StatePermanentError``: no table, no access) cannot say what
was sent: alerts are sent anyway — a possible repeat rather than a record retried for ever.

Outputs are sent to concurrently: one output waiting out a Slack ``Retry-After`` must not eat
the time the others need before the Lambda deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine.alerts import Alert
from engine.outputs.base import Deadline, Delivery, DeliveryReport, Status
from engine.pipeline.dlq import DeadLetters, alert_message
from engine.pipeline.state import StatePermanentError, StateStore

log = logging.getLogger("dasalert.delivery")

# Longer than Kinesis retention (24 h), so redeliveries always find it, and longer than
# FailedBatchBucket keeps an exhausted batch by default (30 days), so `dasalert replay` of a kept
# batch sends only what the function had not delivered. A marker is one small item per alert and
# output: the storage is negligible next to a duplicate page.
SENT_TTL_S = 32 * 86400
MARK_ATTEMPTS = 3  # a sent marker is written up to this many times before giving up


def sent_key(output: str, aid: str, count: int | None = None, step: int | None = None) -> str:
    """The marker of a delivery; with ``count`` for outputs that update in place, so the same
    alert seen again with more events is sent again (the finding's count moves) while a
    redelivery — same id, same count — is still skipped; with ``step`` for an escalation, which
    every output gets once per step."""
    key = f"sent:{output}:{aid}" if count is None else f"sent:{output}:{aid}:{count}"
    return key if step is None else f"{key}:e{step}"


@dataclass
class DeliveryResult:
    deliveries: list[Delivery] = field(default_factory=list)
    already_sent: int = 0
    dead_lettered: int = 0
    retry: dict[str, str] = field(default_factory=dict)  # alert id -> reason to retry


class Deliverer:
    """Delivers lists of alerts; ``router`` is an ``engine.outputs.routing.Router``."""

    def __init__(
        self,
        router: Any,
        state: StateStore,
        dead_letters: DeadLetters,
        *,
        can_retry: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.router = router
        self.state = state
        self.dead_letters = dead_letters
        self.can_retry = can_retry
        self.clock = clock
        for out in getattr(router, "outputs", {}).values():
            bind = getattr(out, "bind_state", None)
            if callable(bind):
                bind(state)

    def deliver(self, alerts: Sequence[Alert], deadline: Deadline) -> DeliveryResult:
        result = DeliveryResult()
        todo = self._not_yet_sent(self.router.route(alerts), result)
        if not todo:
            return result
        by_id = {a.id: a for a in alerts}
        marks: dict[str, str] = {}  # sent marker -> alert id, written together once all answered
        for name, report in self._send_all(todo, deadline).items():
            reported: set[str] = set()
            for d in report.deliveries:
                reported.add(d.alert_id)
                self._settle(result, by_id, d, marks)
            for a in todo[name]:  # an output that forgot an alert must not lose it
                if a.id not in reported:
                    self._settle(
                        result, by_id, Delivery(a.id, name, Status.RETRYABLE, "not reported"), marks
                    )
        self._mark_sent(marks)
        return result

    def _not_yet_sent(
        self, routes: dict[str, list[Alert]], result: DeliveryResult
    ) -> dict[str, list[Alert]]:
        todo: dict[str, list[Alert]] = {}
        for name, batch in routes.items():
            keys = [self._key(name, a) for a in batch]
            try:
                done = self.state.get_counts(keys)
            except StatePermanentError as exc:  # no memory for good: send (at least once)
                log.error("state refused before sending to %s: %s", name, exc)
                done = {}
            except Exception as exc:  # cannot tell what was sent: retry these alerts later
                log.warning("state unavailable before sending to %s: %s", name, type(exc).__name__)
                for a in batch:
                    result.retry.setdefault(a.id, "state_error")
                continue
            fresh = [a for a, k in zip(batch, keys, strict=True) if not done.get(k)]
            result.already_sent += len(batch) - len(fresh)
            if fresh:
                todo[name] = fresh
        return todo

    def _send_all(
        self, todo: dict[str, list[Alert]], deadline: Deadline
    ) -> dict[str, DeliveryReport]:
        def send(name: str) -> DeliveryReport:
            try:
                return self.router.outputs[name].send(todo[name], deadline)
            except Exception as exc:  # an output bug: retry rather than lose the alerts
                log.exception("output %s raised", name)
                report = DeliveryReport(name)
                for a in todo[name]:
                    report.add(a.id, Status.RETRYABLE, f"output raised {type(exc).__name__}")
                return report

        names = list(todo)
        if len(names) == 1:
            return {names[0]: send(names[0])}
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            return dict(zip(names, pool.map(send, names), strict=True))

    def _settle(
        self, result: DeliveryResult, by_id: dict[str, Alert], d: Delivery, marks: dict[str, str]
    ) -> None:
        result.deliveries.append(d)
        if d.status is Status.DELIVERED:
            marks[self._key(d.output, by_id[d.alert_id])] = d.alert_id
            return
        if d.status is Status.RETRYABLE and self.can_retry:
            result.retry.setdefault(d.alert_id, f"output_{d.output}")
            return
        reason = d.reason or d.status.value
        if d.status is Status.RETRYABLE:
            reason = f"retryable failure, no retry possible here: {reason}"
        try:
            self.dead_letters.send(alert_message(by_id[d.alert_id], d.output, reason))
            result.dead_lettered += 1
            self.mark(self._key(d.output, by_id[d.alert_id]))  # dead-lettered: not again
        except Exception as exc:
            log.error(
                "alert %s undeliverable to %s and not dead-lettered: %s",
                d.alert_id,
                d.output,
                type(exc).__name__,
            )
            result.retry.setdefault(d.alert_id, "dead_letter_failed")

    def _key(self, output: str, alert: Alert) -> str:
        out = self.router.outputs.get(output)
        in_place = bool(getattr(out, "updates_in_place", False))
        esc = alert.escalation
        return sent_key(
            output,
            alert.id,
            alert.count if in_place else None,
            esc["step"] if esc is not None else None,
        )

    def _mark_sent(self, marks: dict[str, str]) -> None:
        """Write the sent markers of every delivered alert in one batched write.

        Outputs answer only once they have sent their whole list, so writing the markers
        together once every output has answered leaves the window between a send and its marker
        (the only place a crash can repeat an alert) as it was, and a flood of alerts costs one
        request per 25 markers instead of one per alert. The markers are what keep a redelivery
        (caused by another output or record) from sending these alerts again, so a failed write
        is retried at once a few times.
        """
        if not marks:
            return
        expires = self.clock() + SENT_TTL_S
        for attempt in range(MARK_ATTEMPTS):
            try:
                self.state.put_counts({key: (1, expires) for key in marks})
                return
            except StatePermanentError as exc:  # no table: retrying cannot help
                log.warning("could not record %d deliveries: %s", len(marks), exc)
                return
            except Exception as exc:  # delivered; only a redelivery could repeat them
                if attempt == MARK_ATTEMPTS - 1:
                    ids = sorted(set(marks.values()))
                    log.warning(
                        "could not record %d deliveries (%s%s): %s",
                        len(marks),
                        ", ".join(ids[:5]),
                        " …" if len(ids) > 5 else "",
                        type(exc).__name__,
                    )

    def mark(self, key: str) -> None:
        self.state.incr(key, 1, expires_at=self.clock() + SENT_TTL_S)
