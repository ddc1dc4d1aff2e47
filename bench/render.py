"""Cost of rendering one alert with the responder's message, against the 0.5 ms target.

Renders the full single-alert Slack message (fields, Slack dates, escalation line, folded
values, description, shipped runbook lines, SQL, links to the RDS console, Security Hub and
Logs Insights, buttons, ``@here``), the same alert as plain text (the SNS e-mail body), the
thread reply of an escalation, and a 40-alert group message, and prints µs per alert next to
two baselines measured in the same run, so a slow machine slows all of them:

* the *minimal message*: the same renderer on a bare alert (no context, description, runbook,
  SQL, links or buttons) — what the richer message adds is the difference;
* ``json.dumps`` of the alert's document (what the SNS output serializes for every alert).

Times are the process's CPU time (``time.process_time``), not wall time: on a shared machine the
wall clock also counts the time other processes held the core. Run: ``python bench/render.py``;
exits 1 when the full message or the plain text exceeds the target.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from engine.alerts import Alert
from engine.alerts.plaintext import render_text
from engine.outputs.slack_blocks import render_group, render_one
from engine.outputs.slack_updates import render_reply

TARGET_MS = 0.5
RUNBOOK = (
    "A user in neither `admins` nor `service_accounts` created, altered, dropped or renamed a\n"
    "schema object.\n\n1. **Read the alert**: user, source host, client application, database."
)


def alert(n: int) -> Alert:
    """A rich alert as the pipeline delivers it: resolved resource, folded window, escalation,
    a hostile SQL text (mentions, backticks) and a name with an invisible character."""
    event = {
        "class": "DDL",
        "command": "DROP TABLE",
        "commandText": "DROP TABLE public.loot_" + str(n) + " /* <!channel> ``` */ " + "x" * 400,
        "dbUserName": f"app{n}\u200b",
        "databaseName": "orders",
        "remoteHost": "10.0.1.23",
        "clientApplication": "psql",
        "sessionId": f"6745a4b2.{n:04x}",
        "das": {
            "engine": "postgres",
            "clusterId": "cluster-ABCDEFGHIJKLMNOP",
            "verb": "DROP TABLE",
            "object": "public.loot",
            "rows": 0,
            "failed": True,
            "errorCode": "42P01",
            "time": "2026-01-02T03:04:05.678000+00:00",
        },
    }
    return Alert(
        id=f"{n:032x}",
        rule_id="ddl-by-non-admin",
        title=f"DDL by non-admin app{n} on orders",
        severity="critical",
        event=event,
        description="A user outside the admin list changed the schema.",
        runbook="runbooks/ddl-by-non-admin.md",
        dedup_key=f'"app{n}"',
        count=3,
        first_seen="2026-01-02T03:00:00.000000Z",
        last_seen="2026-01-02T03:04:05.678000Z",
        context={
            "runbook_excerpt": RUNBOOK,
            "resource": {
                "id": "cluster-ABCDEFGHIJKLMNOP",
                "kind": "cluster",
                "name": "orders-prod",
                "arn": "arn:aws:rds:us-east-1:123456789012:cluster:orders-prod",
                "account": "123456789012",
                "region": "us-east-1",
            },
            "folded": {
                "verbs": ["CREATE TABLE", "DROP TABLE"],
                "objects": ["public.a", "public.b", "public.c", "public.d", "public.e"],
                "users": [f"app{n}"],
                "hosts": ["10.0.1.23", "10.0.1.24"],
                "more": {"objects": 7},
            },
            "escalation": {
                "step": 2,
                "reasons": ["new verb: DROP TABLE", "severity high → critical"],
                "previous_severity": "high",
            },
        },
    )


def minimal(n: int) -> Alert:
    """The same alert with nothing but what every alert has."""
    return Alert(
        id=f"{n:032x}",
        rule_id="ddl-by-non-admin",
        title=f"DDL by non-admin app{n} on orders",
        severity="critical",
        event={"dbUserName": f"app{n}", "das": {"engine": "postgres"}},
    )


def per_alert_us(fn: Callable[[], object], alerts: int, rounds: int = 7, loops: int = 300) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(loops):
            fn()
        times.append((time.process_time() - start) / loops / alerts * 1e6)
    return statistics.median(times)


def main() -> int:
    one, bare = alert(1), minimal(1)
    group = [alert(i) for i in range(40)]
    opts: dict[str, Any] = {
        "actions": True,
        "region": "us-east-1",
        "here_from": "high",
        "finding_links": True,
    }
    rows = [
        ("json.dumps(alert) baseline", per_alert_us(lambda: json.dumps(one.to_dict()), 1)),
        ("minimal message baseline", per_alert_us(lambda: render_one(bare), 1)),
        ("render_one (full message)", per_alert_us(lambda: render_one(one, **opts), 1)),
        ("render_text (plain text)", per_alert_us(lambda: render_text(one, region="us-east-1"), 1)),
        ("escalation thread reply", per_alert_us(lambda: render_reply(one), 1)),
        (
            "render_group (40 alerts)",
            per_alert_us(lambda: render_group(group, **opts), 40, loops=30),
        ),
    ]
    base = rows[1][1]
    for label, us in rows:
        print(f"{label:<30} {us:8.1f} µs/alert  ({us / base:.1f}x the minimal message)")
    worst = max(rows[2][1], rows[3][1])
    ok = worst / 1000 < TARGET_MS
    print(
        f"target < {TARGET_MS} ms per alert (full message, plain text): {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
