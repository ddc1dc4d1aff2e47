"""System alerts: one builder module, ids and titles pinned (outputs and redeliveries rely on the
ids never changing), and one shape for every alert about dasalert itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from engine.alerts import system
from engine.alerts.ids import alert_id
from engine.outputs.routing import OPS_KINDS

NOW = 1_800_000_123.0  # 2027-01-15T08:02:03Z


@dataclass(frozen=True)
class Problem:
    file: str
    rule_id: str | None

    def __str__(self) -> str:
        return f"{self.file}: {self.rule_id}: unknown key `whne`"


ALERTS = {
    "undecodable": system.undecodable_records(
        "cluster-A", "wrong_encryption_context", "KMS said no", ["1", "2"], NOW
    ),
    "rule_load": system.rule_load_failed([Problem("rules/x.yaml", "r-x")], NOW),
    "silent": system.stream_silent("cluster-B", NOW - 900, 900, NOW, 600),
    "never": system.stream_silent("db-C", None, None, NOW, 600),
    "unevaluated": system.unevaluated_records("cluster-A", "KeyError: 'x'", ["3"], NOW),
    "state": system.state_refused(
        "cluster-A", "DynamoDB ResourceNotFoundException: no", ["4"], NOW
    ),
}


def test_ids_and_titles_are_pinned() -> None:
    got = {k: (a.id, a.rule_id, a.severity, a.title) for k, a in ALERTS.items()}
    assert got == {
        "undecodable": (
            "18ef74cf47c0a473d0ebc726c363a8aa",
            "dasalert-undecodable-record",
            "high",
            "Activity stream records that cannot be decoded (wrong_encryption_context) "
            "from cluster-A",
        ),
        "rule_load": (
            "7462c66d27311982a3ee2a31c9cc0f63",
            "dasalert-rule-load-error",
            "high",
            "1 rule file(s) failed to load, detection is off for: r-x",
        ),
        "silent": (
            "899802007e0682a8cd36ba2ca7be5034",
            "dasalert-stream-silent",
            "high",
            "Activity stream of cluster-B silent for 15 min (no heartbeat since "
            "2027-01-15T07:47:03Z)",
        ),
        "never": (
            "40e247724c2273b32d04d20357f54add",
            "dasalert-stream-silent",
            "high",
            "Activity stream of db-C has never reported",
        ),
        "unevaluated": (
            "67f830780189917c535e59f21eb5b4b8",
            "dasalert-engine-error",
            "high",
            "The rule engine failed (KeyError) on records from cluster-A",
        ),
        "state": (
            "247a5a77ccd0350b1c5b547e2cc60d6c",
            "dasalert-state-error",
            "high",
            "The state table refuses requests: records from cluster-A not evaluated",
        ),
    }


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_one_shape(name: str) -> None:
    a = ALERTS[name]
    window = system.REMINDER_S if a.rule_id == system.SILENT_RULE else system.PIPELINE_WINDOW_S
    assert a.id == alert_id(a.rule_id, a.dedup_key, int(NOW // window * window))
    assert a.kind in OPS_KINDS  # the ops route, never a rule's severity routing
    assert a.das["time"] == "2027-01-15T08:02:03Z" and a.das["epoch"] == NOW
    assert a.last_seen == "2027-01-15T08:02:03Z"
    assert "dasalert.pipeline" in a.tags and a.runbook and a.runbook.startswith("docs/")


def test_one_alert_per_cause_per_window() -> None:
    later = system.undecodable_records(
        "cluster-A", "wrong_encryption_context", "x", ["9"], NOW + 60
    )
    next_hour = system.undecodable_records(
        "cluster-A", "wrong_encryption_context", "x", [], NOW + 3600
    )
    other = system.undecodable_records("cluster-A", "bad_envelope", "x", ["9"], NOW)
    assert later.id == ALERTS["undecodable"].id
    assert len({next_hour.id, other.id, later.id}) == 3


def test_error_texts_and_record_lists_are_bounded() -> None:
    a = system.unevaluated_records(
        "c", "ValueError: " + "x" * 5000, [str(i) for i in range(99)], NOW
    )
    assert len(a.event["error"]) == system.MAX_ERROR_TEXT
    assert a.event["records"] == [str(i) for i in range(20)] and a.count == 99


def test_send_test_alert_is_marked_and_fresh() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    a, b = system.send_test_alert(when), system.send_test_alert(when)
    assert a.id != b.id and a.id.startswith("dasalert-test-")  # never skipped as already sent
    assert (a.kind, a.severity, a.rule_id) == ("test", "info", "dasalert-send-test")
    assert "TEST" in a.title and a.first_seen == a.last_seen == "2026-01-02T03:04:05.678Z"
