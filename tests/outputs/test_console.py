"""The console output: a table for people, JSON lines for machines."""

from __future__ import annotations

import io
import json

from engine.outputs.base import Status
from engine.outputs.console import ConsoleOutput
from tests.outputs.factory import make_alert


def test_json_lines_round_trip() -> None:
    buf = io.StringIO()
    alerts = [make_alert(1), make_alert(2)]
    report = ConsoleOutput(buf, "json").send(alerts)
    assert [d.status for d in report.deliveries] == [Status.DELIVERED] * 2
    docs = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [d["id"] for d in docs] == [a.id for a in alerts]


def test_table_is_readable_and_strips_control_characters() -> None:
    buf = io.StringIO()
    ConsoleOutput(buf, "table").send([make_alert(title="evil\x1b[2J\nnext", count=4)])
    lines = buf.getvalue().splitlines()
    assert lines[0].split() == ["SEVERITY", "RULE", "COUNT", "TIME", "TITLE"]
    assert len(lines) == 2 and "\x1b" not in lines[1]
    assert lines[1].split()[:3] == ["HIGH", "ddl-by-non-admin", "4"]
    assert lines[1].endswith("evil [2J next")


def test_closed_stream_is_reported_not_raised() -> None:
    buf = io.StringIO()
    buf.close()
    report = ConsoleOutput(buf, "json").send([make_alert()])
    assert report.deliveries[0].status is Status.RETRYABLE


def test_table_columns_fit_long_rule_ids_and_show_seconds() -> None:
    buf = io.StringIO()
    alerts = [
        make_alert(1, rule_id="privilege-change-by-non-admin", last_seen="2026-11-20T09:04:00.5Z"),
        make_alert(2),
    ]
    ConsoleOutput(buf, "table").send(alerts)
    lines = buf.getvalue().splitlines()
    assert lines[1].split()[:5] == [
        "HIGH",
        "privilege-change-by-non-admin",
        "1",
        "2026-11-20",
        "09:04:00Z",
    ]
    # every row's title starts in the same column as the header's TITLE
    col = lines[0].index("TITLE")
    assert [line[col:].split(" #")[0] for line in lines[1:]] == [
        "DDL by non-admin app on orders"
    ] * 2


def test_without_sql_the_json_keeps_who_and_where_but_no_sql_text() -> None:
    buf = io.StringIO()
    alert = make_alert(
        event_updates={
            "commandText": "SELECT * FROM cards WHERE pan = '4111111111111111'",
            "paramList": ["4111111111111111"],
            "errorMessage": "near '4111111111111111'",
        }
    )
    ConsoleOutput(buf, "json", include_sql=False).send([alert])
    assert "4111" not in buf.getvalue()
    doc = json.loads(buf.getvalue())
    assert doc["event"]["dbUserName"] == "app" and doc["event"]["das"]["engine"] == "postgres"
    assert "commandText" not in doc["event"] and doc["id"] == alert.id


def test_console_include_sql_comes_from_the_environment() -> None:
    from engine.outputs.routing import OutputContext

    ctx = OutputContext(client_factory=lambda name: None)
    assert ConsoleOutput.from_env({}, ctx).include_sql is True
    assert ConsoleOutput.from_env({"CONSOLE_INCLUDE_SQL": "false"}, ctx).include_sql is False
