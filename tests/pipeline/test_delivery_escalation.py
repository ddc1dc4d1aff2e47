"""Delivery of updates: a plain update reaches only outputs that update in place; an escalation
reaches every routed output once per step; a redelivery sends nothing twice."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from engine.alerts import Alert
from engine.outputs.base import Deadline
from engine.outputs.routing import Router
from engine.pipeline.delivery import Deliverer, sent_key
from engine.pipeline.state import MemoryStateStore, StateStore
from tests.pipeline.support import ListDeadLetters, ScriptedOutput


class InPlace(ScriptedOutput):
    updates_in_place: ClassVar[bool] = True


class Remembering(ScriptedOutput):
    """An output that asks for the state store (as Slack does)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.state: StateStore | None = None

    def bind_state(self, state: StateStore) -> None:
        self.state = state


PARENT = Alert(id="a1", rule_id="r", title="DDL by app", severity="high", event={}, count=1)


def update(count: int, step: int | None = None, **kw) -> Alert:
    context: dict = {"update": True}
    if step is not None:
        context["escalation"] = {"step": step, "reasons": ["new verb: DROP TABLE"]}
    return replace(PARENT, count=count, context=context, **kw)


def deliverer() -> tuple[Deliverer, Remembering, InPlace, MemoryStateStore]:
    slack, hub = Remembering("slack"), InPlace("securityhub")
    outputs = {"slack": slack, "securityhub": hub}
    names = tuple(outputs)
    router = Router(outputs, names, dict.fromkeys(names, "info"), names, names)
    state = MemoryStateStore()
    d = Deliverer(router, state, ListDeadLetters(), can_retry=True, clock=lambda: 0.0)
    return d, slack, hub, state


def sent(out: ScriptedOutput) -> list[tuple[int, int | None]]:
    return [(a.count, a.escalation["step"] if a.escalation else None) for a in out.sent]


def test_plain_updates_reach_only_in_place_outputs_escalations_reach_all_once() -> None:
    d, slack, hub, state = deliverer()
    assert slack.state is state  # the Deliverer hands its store to outputs that want it
    for batch in (
        [PARENT],
        [update(2)],  # count 1 -> 2: Security Hub only
        [update(3, step=1)],  # a new verb: everyone
        [update(3, step=1)],  # the same batch redelivered: nobody
        [update(4)],
        [update(5, step=2)],
        [update(5, step=2)],
    ):
        d.deliver(batch, Deadline())
    assert sent(slack) == [(1, None), (3, 1), (5, 2)]
    assert sent(hub) == [(1, None), (2, None), (3, 1), (4, None), (5, 2)]
    assert state.get_counts([sent_key("slack", "a1", step=1)]) == {"sent:slack:a1:e1": 1}


def test_an_escalation_that_failed_is_retried_and_then_sent_once() -> None:
    d, slack, hub, _ = deliverer()
    d.deliver([PARENT], Deadline())
    slack.fail_retryable = {"DROP"}
    esc = update(3, step=1, title="DROP TABLE by app")
    first = d.deliver([esc], Deadline())
    assert first.retry == {"a1": "output_slack"}
    slack.fail_retryable = set()
    again = d.deliver([esc], Deadline())  # Kinesis redelivers the record
    assert again.retry == {} and again.already_sent == 1  # Security Hub had it
    assert sent(slack) == [(1, None), (3, 1)] and sent(hub) == [(1, None), (3, 1)]


def test_an_escalation_raising_severity_reaches_an_output_the_parent_did_not() -> None:
    d, slack, _, _ = deliverer()
    d.router.min_severity["slack"] = "critical"
    d.deliver([PARENT], Deadline())  # high: not for this Slack
    d.deliver([update(2, step=1, severity="critical")], Deadline())
    assert sent(slack) == [(2, 1)]
