"""Validating the inline ``tests:`` of a rule (what the runner in ``testing.py`` executes).

Test events stay plain data (timestamps as written); ``at: +30s`` becomes seconds after the
base event's ``logTime`` under the ``at`` key, which the runner consumes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.alerts.model import Alert
from engine.rules.lang import schema as S
from engine.rules.lang.expr import did_you_mean
from engine.rules.lang.validate import Checker, node_type
from engine.rules.lang.yamlsrc import YNode
from engine.rules.model import RuleTest

ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(Alert))


def read_tests(c: Checker, node: YNode) -> tuple[RuleTest, ...]:
    example = "- {name: app user creates a table, event: {class: DDL}, expect: {match: true}}"
    items = c.seq(node, "tests", example) or []
    out = []
    names: dict[str, int] = {}
    for item in items:
        if not c.mapping(item, "test", example):
            continue
        test = _test(c, item, names)
        if test is not None:
            out.append(test)
    return tuple(out)


def _test(c: Checker, item: YNode, names: dict[str, int]) -> RuleTest | None:
    c.keys(item, "a test", S.TEST_KEYS)
    name = None
    name_node = item.get("name")
    if name_node is None:
        c.err(item.line, "a test needs a `name`", "add `name: what this test proves`")
    else:
        name = c.string(name_node, "tests.name")
        if name is not None and name in names:
            c.err(
                name_node.line,
                f"duplicate test name `{name}` (first at line {names[name]})",
                "give each test its own name",
            )
        elif name is not None:
            names[name] = name_node.line
    engine: str | None = S.DEFAULT_TEST_ENGINE
    if item.get("engine") is not None:
        engine = c.enum(item.get("engine"), "tests.engine", S.ENGINE_VALUES)
    events = _test_events(c, item)
    expect = None
    expect_node = item.get("expect")
    if expect_node is None:
        c.err(item.line, "a test needs `expect`", "add `expect: {match: true}` or `{match: false}`")
    else:
        expect = _expect(c, expect_node)
    if name is None or engine is None or events is None or expect is None:
        return None
    return RuleTest(name=name, events=events, expect=expect, engine=engine, line=item.line)


def _test_events(c: Checker, item: YNode) -> tuple[dict[str, Any], ...] | None:
    one, many = item.get("event"), item.get("events")
    if one is not None and many is not None:
        c.err(
            item.line_of("events"),
            "a test has `event` or `events`, not both",
            "keep `events:` (a list) for several",
        )
        return None
    if one is None and many is None:
        c.err(
            item.line,
            "a test needs `event` (one partial event) or `events` (a list)",
            "add `event: {command: CREATE TABLE, class: DDL}`",
        )
        return None
    nodes = (
        [one]
        if one is not None
        else c.seq(many, "events", "[{command: CONNECT}, {command: CONNECT, at: +30s}]")
    )
    if nodes is None:
        return None
    if not nodes:
        c.err(
            many.line if many is not None else item.line,
            "`events` is empty",
            "list at least one event",
        )
        return None
    out = []
    ok = True
    for ev in nodes:
        if not c.mapping(ev, "a test event", "{dbUserName: app, command: SELECT}"):
            ok = False
            continue
        event = ev.plain(dates_as_text=True)
        at_node = ev.get(S.TEST_OFFSET_KEY)
        if at_node is not None:
            seconds = None
            if at_node.kind == "scalar":
                v = at_node.value
                if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                    seconds = v
                else:
                    seconds = S.parse_duration(v)
            if seconds is None:
                c.err(
                    at_node.line,
                    f"`at` must be an offset like +30s, not `{at_node.src or node_type(at_node)}`",
                    "write `at: +30s` (seconds after the base event's logTime)",
                )
                ok = False
            elif "logTime" in event:
                c.err(
                    at_node.line, "an event gives `at` or `logTime`, not both", "keep one of them"
                )
                ok = False
            else:
                event[S.TEST_OFFSET_KEY] = seconds
        out.append(event)
    return tuple(out) if ok else None


def _expect(c: Checker, node: YNode) -> dict[str, Any] | None:
    if not c.mapping(node, "expect", "{match: true, severity: high}"):
        return None
    if not node.value:
        c.err(node.line, "`expect` is empty", "write `expect: {match: true}` or `{match: false}`")
        return None
    ok = True
    for key, value in node.value.items():
        line = node.line_of(key)
        head = key.split(".", 1)[0]
        if key == "match":
            if not isinstance(value.value, bool) or value.kind != "scalar":
                c.err(line, f"`expect.match` must be true or false, not `{value.plain()}`")
                ok = False
        elif key == "alerts":
            v = value.value if value.kind == "scalar" else None
            if value.kind == "seq":
                ok = _expect_alert_list(c, value) and ok
            elif not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
                c.err(
                    line,
                    "`expect.alerts` is the number of alerts (or a list of alert fields)",
                    "write `alerts: 2`",
                )
                ok = False
        elif key == "count":
            v = value.value if value.kind == "scalar" else None
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
                c.err(line, f"`expect.count` must be a whole number, not `{value.plain()}`")
                ok = False
        elif head not in ALERT_FIELDS:
            sugg = (
                did_you_mean(key, S.EXPECT_KEYS)
                or f"expect `match`, `alerts` or an alert field: {', '.join(ALERT_FIELDS)}"
            )
            c.err(line, f"unknown key `{key}` in expect", sugg)
            ok = False
        elif key == "severity" and value.value not in S.SEVERITY_VALUES:
            c.enum(value, "expect.severity", S.SEVERITY_VALUES)
            ok = False
    return node.plain(dates_as_text=True) if ok else None


def _expect_alert_list(c: Checker, node: YNode) -> bool:
    """``alerts: [{dedup_key: …}, {…}]``: one mapping of alert fields per expected alert."""
    ok = True
    for item in node.value:
        if not c.mapping(item, "expect.alerts entry", "{severity: high, count: 2}"):
            ok = False
            continue
        for key in item.value:
            if key.split(".", 1)[0] not in ALERT_FIELDS:
                sugg = did_you_mean(key, ALERT_FIELDS) or f"alert fields: {', '.join(ALERT_FIELDS)}"
                c.err(item.line_of(key), f"unknown alert field `{key}` in expect.alerts", sugg)
                ok = False
    return ok
