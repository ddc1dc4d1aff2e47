"""Every leaking shape, through the deployed handler: no secret in SNS, Security Hub, Slack or
the state table, even with a rule that puts the SQL in its title and its dedup key."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from engine.events import base_event
from handlers import _runtime
from handlers.kinesis import handler
from tests.alerts.test_redact_leaks import LEAKS, WHOLE
from tests.handlers.conftest import TABLE, Deployment
from tests.pipeline.support import FakeContext, _time

CATCH_ALL = """\
id: catch-all
title: "{dbUserName} ran {commandText}"
description: Every statement, its SQL in the title and the dedup key.
severity: high
when: "`true`"
dedup: {key: "[dbUserName, commandText, errorMessage]", window: 1h}
"""


def test_no_leaking_shape_reaches_any_output(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    rules = tmp_path / "catch-all"
    rules.mkdir()
    (rules / "catch-all.yaml").write_text(CATCH_ALL)
    d.monkeypatch.setenv("DASALERT_RULES", str(rules))
    _runtime.reset()

    events, secrets = [], []
    for n, (id_, engine, sql, secret) in enumerate(LEAKS, start=1):
        whole = WHOLE.get(id_, secret)
        ev = base_event(engine)
        ev.update(
            commandText=sql,
            errorMessage=f"error near '{whole}' at line 1",
            dbUserName=f"user{n}",
            logTime=_time(n),
            statementId=n,
        )
        events.append(ev)
        secrets += [secret, whole]
    assert handler(d.event(events[:12], events[12:]), FakeContext()) == {"batchItemFailures": []}

    messages = d.sns_messages()
    assert len(messages) == len(LEAKS)
    outputs = {
        "sns": json.dumps(messages, ensure_ascii=False),
        "securityhub": json.dumps(d.findings(), ensure_ascii=False, default=str),
        "slack": json.dumps([r.json for r in d.slack.requests], ensure_ascii=False),
        "state": json.dumps(boto3.client("dynamodb").scan(TableName=TABLE)["Items"]),
    }
    leaked = {
        (name, secret) for name, text in outputs.items() for secret in secrets if secret in text
    }
    assert leaked == set()
    assert "***" in outputs["sns"] and "***" in outputs["slack"]
