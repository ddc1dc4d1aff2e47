"""Shared pieces for the pipeline and handler tests: events, rules, a scripted output.

The scripted output implements our own ``Output`` interface (it stands in for a destination in
the unit tests of the pipeline's bookkeeping); AWS and Slack are only ever reached for real,
through the ``aws`` and ``slack`` fixtures, in the handler tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.alerts import Alert
from engine.das.encoder import Encoder, stream_arn
from engine.events import base_event
from engine.outputs.base import Deadline, DeliveryReport, Output, Status
from engine.pipeline.dlq import DeadLetterError, DeadLetters

CLUSTER = "cluster-PIPELINETESTAAAAAAAAAAAAAA"
INSTANCE = "db-PIPELINETESTINSTANCEAAAAAA"
ARN = stream_arn(CLUSTER)
T0 = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)

DDL_RULE = """\
id: test-ddl
title: "DDL by {dbUserName}: {das.verb}"
description: Every DDL statement (no dedup, so one alert per event).
severity: high
when: das.action == 'DDL'
"""
THRESHOLD_RULE = """\
id: test-failed-logins
title: "Failed logins by {dbUserName}"
description: Three failed logins by one user within 5 minutes.
severity: medium
when: das.action == 'LOGIN_FAILED'
threshold: {count: 3, window: 5m, group_by: "dbUserName"}
"""


FOLD_RULE = """\
id: test-fold
title: "Statement by {dbUserName}: {das.verb}"
severity: high
when: "dbUserName == 'mallory'"
dedup: {key: dbUserName, window: 1h}
"""
FIRST_SEEN_RULE = """\
id: test-fs
title: "New user {dbUserName}"
severity: high
when: "dbUserName != null"
first_seen: {key: dbUserName, learn: 1s, remember: 30d}
"""


def write_rules(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test-ddl.yaml").write_text(DDL_RULE)
    (directory / "test-failed-logins.yaml").write_text(THRESHOLD_RULE)
    return directory


def _time(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def ddl(user: str, at: float, n: int = 1, sql: str = "CREATE TABLE loot (x text)") -> dict:
    ev = base_event("postgres")
    ev.update(
        {
            "class": "DDL",
            "command": "CREATE TABLE",
            "commandText": sql,
            "dbUserName": user,
            "logTime": _time(at),
            "statementId": n,
        }
    )
    return ev


def failed_login(user: str, at: float, n: int = 1) -> dict:
    ev = base_event("postgres")
    ev.update(
        {
            "class": "MISC",
            "command": "AUTH FAILURE",
            "commandText": None,
            "dbUserName": user,
            "exitCode": "28P01",
            "errorMessage": f'password authentication failed for user "{user}"',
            "logTime": _time(at),
            "statementId": n,
        }
    )
    return ev


def select(user: str, at: float, n: int = 1) -> dict:
    ev = base_event("postgres")
    ev.update({"dbUserName": user, "logTime": _time(at), "statementId": n})
    return ev


def encode(encoder: Encoder, events: Sequence[dict[str, Any]], heartbeats: int = 0) -> bytes:
    return encoder.encode(
        list(events), cluster_id=CLUSTER, instance_id=INSTANCE, heartbeats=heartbeats
    )


class ScriptedOutput(Output):
    """Delivers everything except the alerts whose title contains a scripted word."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name  # type: ignore[misc]
        self.sent: list[Alert] = []
        self.fail_retryable: set[str] = set()
        self.fail_permanent: set[str] = set()

    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        for a in alerts:
            if any(word in a.title for word in self.fail_retryable):
                report.add(a.id, Status.RETRYABLE, "HTTP 500")
            elif any(word in a.title for word in self.fail_permanent):
                report.add(a.id, Status.PERMANENT, "HTTP 410 no_service")
            else:
                self.sent.append(a)
                report.add(a.id, Status.DELIVERED)
        return report


class ListDeadLetters(DeadLetters):
    def __init__(self, broken: bool = False) -> None:
        self.docs: list[dict] = []
        self.broken = broken

    def send(self, doc: dict) -> None:
        if self.broken:
            raise DeadLetterError("SQS SendMessage failed: EndpointConnectionError")
        self.docs.append(doc)


class FakeContext:
    """What Lambda passes as ``context`` (our own stand-in, not a boto3 patch)."""

    function_name = "dasalert-stream"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:dasalert-stream"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/dasalert-stream"
    log_stream_name = "2026/11/27/[$LATEST]abcdef"

    def __init__(self, remaining_ms: int = 120_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
