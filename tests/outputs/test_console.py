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
    assert lines[0].split() == [
        "SEVERITY",
        "RULE",
        "COUNT",
        "FIRST",
        "SEEN",
        "LAST",
        "SEEN",
        "SERVER",
        "TITLE",
    ]
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
        make_alert(
            1,
            rule_id="privilege-change-by-non-admin",
            first_seen="2026-11-20T09:03:59.1Z",
            last_seen="2026-11-20T09:04:00.5Z",
        ),
        make_alert(2, first_seen="2026-11-20T09:05:00Z", last_seen=None),
    ]
    ConsoleOutput(buf, "table").send(alerts)
    lines = buf.getvalue().splitlines()
    assert lines[1].split()[:8] == [
        "HIGH",
        "privilege-change-by-non-admin",
        "1",
        "2026-11-20",
        "09:03:59Z",
        "2026-11-20",
        "09:04:00Z",
        "cluster-ABCDEFGHIJKLMNOP",
    ]
    assert lines[2].split()[3:7] == ["2026-11-20", "09:05:00Z", "2026-11-20", "09:05:00Z"]
    # every row's title starts in the same column as the header's TITLE
    col = lines[0].index("TITLE")
    assert [line[col:].split(" #")[0] for line in lines[1:]] == [
        "DDL by non-admin app on orders"
    ] * 2


def test_table_and_json_list_alerts_by_first_seen_then_rule_whatever_the_input_order() -> None:
    alerts = [
        make_alert(1, rule_id="b-rule", first_seen="2026-11-20T09:00:02Z"),
        make_alert(2, rule_id="z-rule", first_seen="2026-11-20T09:00:01Z"),
        make_alert(3, rule_id="a-rule", first_seen="2026-11-20T09:00:02Z"),
    ]
    table, js = io.StringIO(), io.StringIO()
    ConsoleOutput(table, "table").send(alerts)
    ConsoleOutput(js, "json").send(alerts)
    assert [line.split()[1] for line in table.getvalue().splitlines()[1:]] == [
        "z-rule",
        "a-rule",
        "b-rule",
    ]
    assert [json.loads(x)["rule_id"] for x in js.getvalue().splitlines()] == [
        "z-rule",
        "a-rule",
        "b-rule",
    ]


def test_server_column_is_the_cluster_else_the_instance_else_the_server_host() -> None:
    from engine.outputs.console import server

    assert server(make_alert()) == "cluster-ABCDEFGHIJKLMNOP"
    rds = make_alert(event_updates={"das": {"instanceId": "db-X"}, "serverHost": "10.0.0.5"})
    assert server(rds) == "db-X"
    bare = make_alert(event_updates={"das": {}, "serverHost": "10.0.0.5"})
    assert server(bare) == "10.0.0.5"
