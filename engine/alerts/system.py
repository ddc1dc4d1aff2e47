"""Alerts about dasalert itself, built in one place.

A rule match is built by the rule engine; everything else a responder may receive comes from here:
records that cannot be decoded, records the engine could not evaluate, rule files that did not
load, an activity stream that went silent, and the ``send-test`` alert. They share one shape, so
that routing (``kind`` ``pipeline`` and ``rule_error`` go to the ops route), idempotent delivery
and the outputs treat them alike:

* the id is :func:`~engine.alerts.ids.alert_id` of a fixed rule id, a dedup key naming the
  resource and the cause, and a window (one hour, or one day for the silence reminder), so a
  failing stream produces one alert per window, not one per batch;
* ``event`` carries ``das.time``/``das.epoch`` (and ``das.resourceId`` when one resource is
  concerned) so outputs place the alert in time and on a resource like any other;
* error texts are cut to 500 characters; a record's data is never copied into an alert.

The builders are pure functions of their arguments and the clock value passed in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from engine.alerts.ids import alert_id
from engine.alerts.model import Alert

UNDECODABLE_RULE = "dasalert-undecodable-record"
UNEVALUATED_RULE = "dasalert-engine-error"
STATE_ERROR_RULE = "dasalert-state-error"
RULE_LOAD_RULE = "dasalert-rule-load-error"
SILENT_RULE = "dasalert-stream-silent"
MISMATCH_RULE = "dasalert-resource-mismatch"
TEST_RULE = "dasalert-send-test"

PIPELINE_WINDOW_S = 3600  # one alert per resource and cause per hour
REMINDER_S = 86400  # a silence is reminded once a day
PIPELINE_RUNBOOK = "docs/operations.md#pipeline-alerts"
SILENT_RUNBOOK = "docs/operations.md#the-stream-went-silent"
PIPELINE_TAGS = ("dasalert.pipeline",)
MAX_ERROR_TEXT = 500
MAX_LISTED = 20  # record ids or problems listed in one alert


class LoadProblem(Protocol):
    """What a rule-load problem offers (``engine.rules.model.Problem``, kept structural so
    alerts do not depend on the rule package)."""

    @property
    def file(self) -> Any: ...

    @property
    def rule_id(self) -> str | None: ...


def iso(epoch: float) -> str:
    """``2026-11-27T12:00:00Z``: seconds, UTC, with a Z."""
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")
    return stamp.replace("+00:00", "Z")


def window_start(now: float, window_s: int) -> int:
    return int(now // window_s * window_s)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _system_alert(
    *,
    rule_id: str,
    key: str,
    window_s: int,
    now: float,
    title: str,
    rule_title: str,
    description: str,
    event: dict[str, Any],
    kind: str = "pipeline",
    severity: str = "high",
    count: int = 1,
    first_seen: str | None,
    tags: tuple[str, ...] = PIPELINE_TAGS,
    runbook: str = PIPELINE_RUNBOOK,
    context: dict[str, Any] | None = None,
) -> Alert:
    stamp = iso(now)
    return Alert(
        id=alert_id(rule_id, key, window_start(now, window_s)),
        rule_id=rule_id,
        title=title,
        severity=severity,
        kind=kind,
        rule_title=rule_title,
        description=description,
        event=event,
        tags=tags,
        runbook=runbook,
        dedup_key=key,
        count=count,
        first_seen=first_seen,
        last_seen=stamp,
        context=context or {},
    )


def undecodable_records(
    resource_id: str, reason: str, error: str, record_ids: Sequence[str], now: float
) -> Alert:
    """Records of one resource that can never decode, for one reason (dead-lettered)."""
    key = f"{resource_id}|{reason}"
    return _system_alert(
        rule_id=UNDECODABLE_RULE,
        key=key,
        window_s=PIPELINE_WINDOW_S,
        now=now,
        title=f"Activity stream records that cannot be decoded ({reason}) from {resource_id}",
        rule_title="Undecodable activity stream records",
        description=(
            "The activity stream carries records dasalert cannot read: database activity "
            "is going unmonitored. A wrong or disabled KMS key, a changed encryption "
            "context, or tampered records all look like this. The records are in the "
            "dead-letter queue with the reason."
        ),
        event={
            "das": {"resourceId": resource_id, "epoch": now, "time": iso(now)},
            "reason": reason,
            "error": error[:MAX_ERROR_TEXT],
            "records": list(record_ids[:MAX_LISTED]),
        },
        count=len(record_ids),
        first_seen=iso(now),
        context={"records": len(record_ids)},
    )


def resource_mismatch(
    resource_id: str, claimed: Sequence[str], record_ids: Sequence[str], now: float
) -> Alert:
    """Records of ``resource_id``'s stream whose payload names another cluster or instance.

    The data key is bound to the stream's resource by KMS, the payload's ids are not: whoever can
    encrypt under the stream's key can write a record naming another database. The events were
    evaluated under the stream's id (the one KMS vouches for); this alert says someone tried.
    """
    shown = sorted(set(claimed))[:MAX_LISTED]
    return _system_alert(
        rule_id=MISMATCH_RULE,
        key=f"{resource_id}|mismatch",
        window_s=PIPELINE_WINDOW_S,
        now=now,
        title=f"Activity stream records of {resource_id} claim another database",
        rule_title="Activity stream record names another database",
        description=(
            "Records on this database's activity stream, decrypted with its own key, name a "
            "different cluster or instance id. RDS never does this: someone with encrypt rights "
            "under the stream's KMS key wrote records to the stream. Their events were evaluated "
            "as this database's."
        ),
        event={
            "das": {"resourceId": resource_id, "epoch": now, "time": iso(now)},
            "claimed": shown,
            "records": list(record_ids[:MAX_LISTED]),
        },
        count=len(record_ids),
        first_seen=iso(now),
        context={"records": len(record_ids)},
    )


def unevaluated_records(
    resource_id: str, error: str, record_ids: Sequence[str], now: float
) -> Alert:
    """Records that decoded but that the rule engine raised on (a bug, not the store).

    Retrying cannot fix a bug, so the records are dead-lettered (replayable once fixed) and the
    stream moves on; this alert says detection was off for them. ``kind`` ``rule_error``: it
    goes where rule errors go.
    """
    kind_of_error = error.split(":", 1)[0] or "error"
    key = f"{resource_id}|{kind_of_error}"
    return _system_alert(
        rule_id=UNEVALUATED_RULE,
        key=key,
        window_s=PIPELINE_WINDOW_S,
        now=now,
        kind="rule_error",
        title=f"The rule engine failed ({kind_of_error}) on records from {resource_id}",
        rule_title="Records the rule engine could not evaluate",
        description=(
            "The rule engine raised while evaluating these records, so no rule saw their "
            "events. A retry cannot fix a bug: the records are in the dead-letter queue and "
            "can be replayed with `dasalert run` once the engine or the offending rule is fixed."
        ),
        event={
            "das": {"resourceId": resource_id, "epoch": now, "time": iso(now)},
            "reason": "engine_error",
            "error": error[:MAX_ERROR_TEXT],
            "records": list(record_ids[:MAX_LISTED]),
        },
        count=len(record_ids),
        first_seen=iso(now),
        context={"records": len(record_ids), "error": error[:MAX_ERROR_TEXT]},
    )


def state_refused(resource_id: str, error: str, record_ids: Sequence[str], now: float) -> Alert:
    """Records not evaluated because the state store refuses every call (no such table,
    access denied): suppression cannot work, and retrying would block the shard."""
    key = f"{resource_id}|state_error"
    return _system_alert(
        rule_id=STATE_ERROR_RULE,
        key=key,
        window_s=PIPELINE_WINDOW_S,
        now=now,
        title=f"The state table refuses requests: records from {resource_id} not evaluated",
        rule_title="State store refuses requests",
        description=(
            "The DynamoDB state table refused a request for a reason a retry cannot fix (the "
            "table does not exist, access is denied, the request is invalid). Check "
            "DASALERT_STATE_TABLE and the function's role. The records are in the dead-letter "
            "queue and can be replayed with `dasalert run` once the table is reachable."
        ),
        event={
            "das": {"resourceId": resource_id, "epoch": now, "time": iso(now)},
            "reason": "state_error",
            "error": error[:MAX_ERROR_TEXT],
            "records": list(record_ids[:MAX_LISTED]),
        },
        count=len(record_ids),
        first_seen=iso(now),
        context={"records": len(record_ids)},
    )


def rule_load_failed(problems: Sequence[LoadProblem], now: float) -> Alert:
    """Rule files of the deployed pack that did not load: those rules detect nothing."""
    files = sorted({str(p.file) for p in problems})
    rules = sorted({p.rule_id or str(p.file) for p in problems})
    key = "|".join(files)
    return _system_alert(
        rule_id=RULE_LOAD_RULE,
        key=key,
        window_s=PIPELINE_WINDOW_S,
        now=now,
        title=f"{len(files)} rule file(s) failed to load, detection is off for: "
        + ", ".join(rules)[:150],
        rule_title="Rules that failed to load",
        description=(
            "The deployed rule pack has files that do not load, so those rules detect "
            "nothing. Run `dasalert lint` on the pack, fix the problems listed here and "
            "deploy again (a pack in S3: `dasalert publish` it; until then the last pack that "
            "loaded keeps running)."
        ),
        event={
            "das": {"epoch": now, "time": iso(now)},
            "problems": [str(p) for p in problems[:MAX_LISTED]],
        },
        count=len(problems),
        first_seen=iso(now),
        context={"files": files},
    )


def stream_silent(
    resource_id: str,
    last_seen: float | None,
    silent_s: float | None,
    now: float,
    max_silence_s: float,
) -> Alert:
    """No heartbeat from a resource for longer than ``max_silence_s`` (``last_seen`` None: it
    never reported). One alert per silence episode, reminded daily."""
    if last_seen is None:
        title = f"Activity stream of {resource_id} has never reported"
        episode = f"{resource_id}|never"
        first = None
    else:
        title = (
            f"Activity stream of {resource_id} silent for {_minutes(silent_s or 0)} "
            f"(no heartbeat since {iso(last_seen)})"
        )
        episode = f"{resource_id}|{int(last_seen)}"
        first = iso(last_seen)
    return _system_alert(
        rule_id=SILENT_RULE,
        key=episode,
        window_s=REMINDER_S,
        now=now,
        title=title,
        rule_title="Activity stream went silent",
        description=(
            "No heartbeat from this database's activity stream: the stream was stopped, the "
            "database is down, or auditing was turned off - activity is not being monitored. "
            "An attacker who disables auditing causes exactly this."
        ),
        event={
            "das": {"resourceId": resource_id, "epoch": now, "time": iso(now)},
            "lastHeartbeat": first,
            "silentSeconds": None if silent_s is None else int(silent_s),
            "maxSilenceSeconds": int(max_silence_s),
        },
        tags=(*PIPELINE_TAGS, "attack.defense_evasion", "attack.t1562"),
        runbook=SILENT_RUNBOOK,
        first_seen=first,
        context={"max_silence_s": int(max_silence_s)},
    )


def send_test_alert(now: dt.datetime | None = None) -> Alert:
    """The ``dasalert send-test`` alert: looks like a real one (fields filled), says TEST
    everywhere, and has a fresh id each time so no output skips it as already sent."""
    now = now or dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return Alert(
        id=f"dasalert-test-{uuid.uuid4().hex}",
        rule_id=TEST_RULE,
        title="TEST alert from dasalert send-test: no action needed",
        severity="info",
        kind="test",
        rule_title="dasalert send-test",
        description="This is a test alert sent by `dasalert send-test` to check the wiring.",
        event={
            "dbUserName": "dasalert-test",
            "databaseName": "test",
            "remoteHost": "127.0.0.1",
            "clientApplication": "dasalert send-test",
            "commandText": "SELECT 'dasalert test alert'",
            "das": {"time": stamp, "engine": "test", "action": "TEST"},
        },
        first_seen=stamp,
        last_seen=stamp,
    )
