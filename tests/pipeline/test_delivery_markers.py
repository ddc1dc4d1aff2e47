"""A sent marker that fails to write is retried: it is what stops a redelivery repeating an alert.

Scenario: Slack takes the alert, the marker write fails (the state table hiccups), and Security
Hub fails retryably, so the record is redelivered. Without the marker Slack would post again.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.alerts import Alert
from engine.outputs.base import Deadline
from engine.outputs.routing import Router
from engine.pipeline.delivery import MARK_ATTEMPTS, Deliverer
from engine.pipeline.state import MemoryStateStore, StateUnavailable
from tests.pipeline.support import ListDeadLetters, ScriptedOutput


class FlakyMarkers(MemoryStateStore):
    """The in-memory store, except that the first ``failures`` marker writes are throttled."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def put_counts(self, values: Mapping[str, tuple[int, float]]) -> None:
        if any(key.startswith("sent:") for key in values) and self.failures > 0:
            self.failures -= 1
            raise StateUnavailable("DynamoDB ThrottlingException: Rate exceeded")
        super().put_counts(values)


def _run(failures: int) -> tuple[ScriptedOutput, dict[str, str]]:
    slack, hub = ScriptedOutput("slack"), ScriptedOutput("securityhub")
    hub.fail_retryable = {"drop"}
    outputs = {"slack": slack, "securityhub": hub}
    names = tuple(outputs)
    router = Router(outputs, names, dict.fromkeys(names, "info"), names, names)
    d = Deliverer(
        router, FlakyMarkers(failures), ListDeadLetters(), can_retry=True, clock=lambda: 0.0
    )
    alert = Alert(id="a1", rule_id="r", title="drop table", severity="high", event={})
    first = d.deliver([alert], Deadline())
    hub.fail_retryable = set()
    d.deliver([alert], Deadline())  # Lambda's redelivery of the record
    return slack, first.retry


def test_a_failed_marker_write_is_retried_so_the_redelivery_does_not_repeat() -> None:
    slack, retry = _run(failures=MARK_ATTEMPTS - 1)
    assert retry == {"a1": "output_securityhub"}
    assert [a.id for a in slack.sent] == ["a1"]


def test_a_marker_that_never_writes_repeats_once_the_documented_window() -> None:
    slack, _ = _run(failures=MARK_ATTEMPTS)
    assert [a.id for a in slack.sent] == ["a1", "a1"]
