"""Cost of rendering one Slack alert (the responder's message), against the 0.5 ms target.

Renders the full single-alert message (fields, Slack dates, description, SQL, buttons, @here)
and a 40-alert group message, and prints µs per alert next to a baseline measured in the same
run: ``json.dumps`` of the alert's document (what the SNS output serializes for every alert),
so a slow machine slows both. Run: ``python bench/slack_render.py``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from engine.alerts import Alert
from engine.outputs.slack_blocks import render_group, render_one

TARGET_MS = 0.5


def alert(n: int) -> Alert:
    event = {
        "class": "DDL",
        "command": "DROP TABLE",
        "commandText": "DROP TABLE public.loot_" + str(n) + " /* <!channel> ``` */ " + "x" * 400,
        "dbUserName": f"app{n}",
        "databaseName": "orders",
        "remoteHost": "10.0.1.23",
        "clientApplication": "psql",
        "sessionId": str(725000 + n),
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
        runbook="https://wiki.example.com/runbooks/ddl",
        dedup_key=f'"app{n}"',
        count=3,
        first_seen="2026-01-02T03:00:00.000000Z",
        last_seen="2026-01-02T03:04:05.678000Z",
    )


def per_alert_us(fn: Callable[[], object], alerts: int, rounds: int = 7, loops: int = 300) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - start) / loops / alerts * 1e6)
    return statistics.median(times)


def main() -> int:
    one = alert(1)
    group = [alert(i) for i in range(40)]
    opts = {"actions": True, "region": "us-east-1", "here_from": "high"}
    rich = per_alert_us(lambda: render_one(one, **opts), 1)  # type: ignore[arg-type]
    grouped = per_alert_us(lambda: render_group(group, **opts), 40, loops=30)  # type: ignore[arg-type]
    base = per_alert_us(lambda: json.dumps(one.to_dict()), 1)
    print(f"json.dumps(alert) baseline     {base:8.1f} µs/alert")
    print(f"render_one (full message)      {rich:8.1f} µs/alert  ({rich / base:.1f}x baseline)")
    print(
        f"render_group (40 alerts)       {grouped:8.1f} µs/alert  ({grouped / base:.1f}x baseline)"
    )
    ok = rich / 1000 < TARGET_MS
    print(f"target < {TARGET_MS} ms per alert: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
