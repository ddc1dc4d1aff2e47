"""Alerts for output tests: realistic by default, hostile on request."""

from __future__ import annotations

from typing import Any

from engine.alerts import Alert

HOSTILE = "<!channel> <@U123> <https://evil.example|click> ``` & \x07\x1b[31m\u202e\nnext"


def make_alert(n: int = 0, **overrides: Any) -> Alert:
    event: dict[str, Any] = {
        "type": "record",
        "class": "DDL",
        "command": "CREATE TABLE",
        "commandText": "CREATE TABLE t (id int)",
        "dbUserName": "app",
        "databaseName": "orders",
        "remoteHost": "10.0.1.23",
        "remotePort": "5432",
        "clientApplication": "psql",
        "logTime": "2026-01-02 03:04:05.678+00",
        "das": {
            "engine": "postgres",
            "clusterId": "cluster-ABCDEFGHIJKLMNOP",
            "instanceId": "db-QRSTUVWXYZ012345",
            "time": "2026-01-02T03:04:05.678000+00:00",
            "action": "DDL",
        },
    }
    event.update(overrides.pop("event_updates", {}))
    base: dict[str, Any] = {
        "id": f"a{n:04d}" + "0" * 28,
        "rule_id": "ddl-by-non-admin",
        "title": f"DDL by non-admin app on orders #{n}",
        "severity": "high",
        "event": event,
        "rule_title": "DDL by non-admin",
        "description": "A user outside the admin list changed the schema.",
        "tags": ("attack.persistence", "attack.t1098"),
        "runbook": "https://wiki.example.com/runbooks/ddl",
        "first_seen": "2026-01-02T03:04:05.678000+00:00",
        "last_seen": "2026-01-02T03:04:05.678000+00:00",
    }
    base.update(overrides)
    return Alert(**base)
