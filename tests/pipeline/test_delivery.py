"""Deliverer edge cases: outputs that raise or forget an alert never lose it."""

from __future__ import annotations

from collections.abc import Sequence

from engine.alerts import Alert
from engine.outputs.base import Deadline, DeliveryReport, Output, Status
from engine.outputs.routing import Router
from engine.pipeline.delivery import Deliverer, sent_key
from engine.pipeline.state import MemoryStateStore
from tests.pipeline.support import ListDeadLetters, ScriptedOutput


def _alert(i: int) -> Alert:
    return Alert(id=f"a{i}", rule_id="r", title=f"alert {i}", severity="high", event={})


class Raising(Output):
    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        raise RuntimeError("bug")


class Forgetful(Output):
    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport("forgetful")
        report.add(alerts[0].id, Status.DELIVERED)
        return report


def _deliverer(outputs: dict[str, Output], *, can_retry: bool = True):
    names = tuple(outputs)
    router = Router(outputs, names, dict.fromkeys(names, "info"), names, names)
    state = MemoryStateStore()
    dlq = ListDeadLetters()
    return Deliverer(router, state, dlq, can_retry=can_retry, clock=lambda: 0.0), state, dlq


def test_an_output_that_raises_or_forgets_gets_its_alerts_retried() -> None:
    ok = ScriptedOutput("ok")
    d, state, _ = _deliverer({"ok": ok, "raising": Raising(), "forgetful": Forgetful()})
    result = d.deliver([_alert(1), _alert(2)], Deadline())
    assert result.retry == {"a1": "output_raising", "a2": "output_raising"}
    statuses = {(x.output, x.alert_id): x.status for x in result.deliveries}
    assert statuses[("forgetful", "a1")] is Status.DELIVERED
    assert statuses[("forgetful", "a2")] is Status.RETRYABLE
    assert [a.id for a in ok.sent] == ["a1", "a2"]
    # the retry sends only what each output has not taken yet
    again = d.deliver([_alert(1), _alert(2)], Deadline())
    assert again.already_sent == 3 and len(ok.sent) == 2
    assert state.get_counts([sent_key("ok", "a1")]) == {sent_key("ok", "a1"): 1}


def test_without_retry_and_without_a_queue_the_alert_is_still_reported_for_retry() -> None:
    failing = ScriptedOutput("slack")
    failing.fail_permanent = {"alert"}
    d, _, dlq = _deliverer({"slack": failing}, can_retry=False)
    dlq.broken = True
    result = d.deliver([_alert(1)], Deadline())
    assert result.retry == {"a1": "dead_letter_failed"} and result.dead_lettered == 0


class InPlace(ScriptedOutput):
    updates_in_place = True


def test_outputs_that_update_in_place_get_repeats_with_a_higher_count_only() -> None:
    import dataclasses

    page, finding = ScriptedOutput("page"), InPlace("finding")
    d, _, _ = _deliverer({"page": page, "finding": finding})
    first = _alert(1)
    d.deliver([first], Deadline())
    d.deliver([first], Deadline())  # a redelivery: same id, same count
    grown = dataclasses.replace(first, count=7)
    d.deliver([grown], Deadline())  # the incident grew: the finding follows, nobody is paged
    assert [a.count for a in page.sent] == [1]
    assert [a.count for a in finding.sent] == [1, 7]
