"""Loading rule files: YAML → validated, compiled ``Rule`` objects, or Problems that teach.

Every check runs on every file and every problem is collected — an author fixes a file in one
pass, not one error per run. A file with an error yields no rule; the other files still load,
so one typo never silences the whole pack. Nothing here raises for bad input: arbitrary YAML
gives rules or problems (a hypothesis test holds us to it).

Paths: a directory means every ``*.yaml``/``*.yml`` below it except ``lists.yaml``; the named
lists and params come from ``lists.yaml`` beside the rules (the directory, or the file's
folder), or from ``lists_path``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.alerts.model import Alert
from engine.rules import schema as S
from engine.rules.expr import ExprError, check_functions, compile_expr_noted, did_you_mean
from engine.rules.index import derive_actions
from engine.rules.model import Dedup, Exemption, Expr, Problem, Rule, RuleTest, Threshold
from engine.rules.yamlsrc import YNode, parse_yaml

MAX_FILE_BYTES = 1_000_000

# words from other rule languages (Sigma, Panther, StreamAlert) → ours
KEY_ALIASES = {
    "level": "severity",
    "priority": "severity",
    "condition": "when",
    "detection": "when",
    "query": "when",
    "filter": "when",
    "match": "when",
    "exceptions": "unless",
    "except": "unless",
    "falsepositives": "unless",
    "allowlist": "unless",
    "name": "title",
    "test": "tests",
    "output": "outputs",
    "tag": "tags",
    "reference": "references",
    "dedup_period": "dedup",
    "suppress": "dedup",
    "runbook_url": "runbook",
}
_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(Alert))


@dataclass
class LoadResult:
    rules: list[Rule]
    lists: dict[str, list[Any]]
    params: dict[str, Any]
    problems: list[Problem]
    files: list[str] = field(default_factory=list)  # rule files read
    # rule id -> key (``when``, ``outputs``, ``title``, …) -> line: where lint points
    key_lines: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dt.date):
        return "a date"
    return type(value).__name__


def _node_type(node: YNode) -> str:
    if node.kind == "map":
        return "a mapping"
    if node.kind == "seq":
        return "a list"
    return _type_name(node.value)


class _Check:
    """The problems of one rule file, with the rule id once it is known."""

    def __init__(self, file: str, lists: dict[str, Any], params: dict[str, Any]) -> None:
        self.file = file
        self.rule_id: str | None = None
        self.problems: list[Problem] = []
        self.lists = lists
        self.params = params

    def err(self, line: int | None, message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem(self.file, line, self.rule_id, message, suggestion))

    def string(self, node: YNode, what: str, *, example: str | None = None) -> str | None:
        if node.kind == "scalar" and isinstance(node.value, str):
            if not node.value.strip():
                self.err(
                    node.line,
                    f"`{what}` is empty",
                    f"write it, e.g. {example}" if example else None,
                )
                return None
            return node.value
        hint = f"write it like {example}" if example else None
        self.err(node.line, f"`{what}` must be a string, not {_node_type(node)}", hint)
        return None

    def enum(self, node: YNode, what: str, allowed: tuple[str, ...]) -> str | None:
        value = node.value if node.kind == "scalar" else None
        if isinstance(value, str) and value in allowed:
            return value
        shown = value if node.kind == "scalar" else _node_type(node)
        guess = None
        if isinstance(value, str):
            low = value.strip().lower()
            close = difflib.get_close_matches(low, allowed, n=1, cutoff=0.6)
            guess = low if low in allowed else (close[0] if close else None)
        sugg = f"did you mean `{guess}`?" if guess else f"write one of: {', '.join(allowed)}"
        self.err(node.line, f"`{what}` must be one of {', '.join(allowed)}, not `{shown}`", sugg)
        return None

    def keys(self, node: YNode, what: str, allowed: tuple[str, ...]) -> None:
        for key in node.value:
            if key in allowed:
                continue
            alias = KEY_ALIASES.get(key)
            sugg = (
                f"did you mean `{alias}`?"
                if alias in allowed
                else did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}"
            )
            self.err(node.line_of(key), f"unknown key `{key}` in {what}", sugg)

    def mapping(self, node: YNode, what: str, example: str) -> bool:
        if node.kind == "map":
            return True
        self.err(
            node.line, f"`{what}` must be a mapping, not {_node_type(node)}", f"write {example}"
        )
        return False

    def seq(self, node: YNode, what: str, example: str) -> list[YNode] | None:
        if node.kind == "seq":
            return node.value
        self.err(node.line, f"`{what}` must be a list, not {_node_type(node)}", f"write {example}")
        return None

    def expr(self, node: YNode, what: str) -> Expr | None:
        """Compile a JMESPath expression; report syntax, function, list and param problems."""
        if not (node.kind == "scalar" and isinstance(node.value, str)):
            hint = (
                'quote the whole expression, e.g. when: "`true`"'
                if node.kind == "scalar"
                else "write one JMESPath expression as a string; combine conditions with && and ||"
            )
            self.err(
                node.line,
                f"`{what}` must be a JMESPath expression (a string), not {_node_type(node)}",
                hint,
            )
            return None
        src = node.value
        try:
            expr, notes = compile_expr_noted(src)
        except ExprError as exc:
            near = ""
            if exc.column is not None and exc.column < len(src):
                near = f" near `{src[exc.column : exc.column + 20].splitlines()[0]}`"
            self.err(node.line, f"`{what}`: {exc}{near}", exc.suggestion)
            return None
        for note in notes:
            self.problems.append(
                Problem(self.file, node.line, self.rule_id, f"`{what}`: {note}", level="warning")
            )
        bad = check_functions(expr.compiled, self.lists, self.params)
        for message, suggestion in bad:
            self.err(node.line, f"`{what}`: {message}", suggestion)
        return None if bad else expr

    def duration(self, node: YNode, what: str) -> int | None:
        seconds = S.parse_duration(node.value) if node.kind == "scalar" else None
        if seconds is None or seconds <= 0 or seconds > S.MAX_WINDOW_S:
            shown = node.value if node.kind == "scalar" else _node_type(node)
            msg = f"`{what}` must be a duration like 5m, not `{shown}`"
            if seconds is not None:
                msg = f"`{what}` must be between 1s and 31d, not `{shown}`"
            self.err(node.line, msg, S.duration_hint(node.value if node.kind == "scalar" else None))
            return None
        return seconds

    def integer(self, node: YNode, what: str, minimum: int) -> int | None:
        v = node.value if node.kind == "scalar" else None
        if isinstance(v, int) and not isinstance(v, bool) and v >= minimum:
            return v
        shown = v if node.kind == "scalar" else _node_type(node)
        self.err(node.line, f"`{what}` must be a whole number ≥ {minimum}, not `{shown}`")
        return None


# -- one rule ---------------------------------------------------------------------------------


def load_rule_text(
    text: str,
    file: str,
    lists: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[Rule | None, list[Problem], dict[str, int]]:
    """Parse and validate one rule file's text: (rule or None, problems, key lines)."""
    lists, params = lists or {}, params or {}
    root, problems = parse_yaml(text, file)
    if root is None:
        return None, problems, {}
    c = _Check(file, lists, params)
    c.problems.extend(problems)
    try:
        rule = _rule(c, root)
    except Exception as exc:  # a bug of ours must not hide the other files: say so, go on
        c.err(root.line, f"internal error while validating: {type(exc).__name__}: {exc}")
        rule = None
    key_lines = dict(root.key_lines) if root.kind == "map" else {}
    errors = [p for p in c.problems if p.level == "error"]
    # problems found before the id was known get it now (YAML duplicate keys, …)
    fixed = [dataclasses.replace(p, rule_id=p.rule_id or c.rule_id) for p in c.problems]
    return (None if errors else rule), fixed, key_lines


def _rule(c: _Check, root: YNode) -> Rule | None:
    if root.kind != "map":
        c.err(
            root.line,
            f"a rule file holds one mapping (id, title, when, …), not {_node_type(root)}",
            "start the file with `id: my-rule`",
        )
        return None
    get = root.get
    id_node = get("id")
    rule_id = None
    if id_node is not None:
        rule_id = c.string(id_node, "id", example="`id: ddl-by-non-admin`")
        if rule_id is not None and not S.RULE_ID_RE.match(rule_id):
            c.err(id_node.line, f"id `{rule_id}` is not kebab-case", f"write `{S.kebab(rule_id)}`")
            rule_id = None
    c.rule_id = rule_id or (id_node.value if id_node and isinstance(id_node.value, str) else None)
    c.keys(root, "a rule", S.RULE_KEYS)
    for key in S.REQUIRED_RULE_KEYS:
        if key not in root.value:
            c.err(root.line, f"missing required key `{key}`", _REQUIRED_HINTS[key])

    title = (
        c.string(get("title"), "title", example='"DDL by {dbUserName}"') if get("title") else None
    )
    description = ""
    if get("description") is not None:
        description = c.string(get("description"), "description") or ""
    severity = c.enum(get("severity"), "severity", S.SEVERITY_VALUES) if get("severity") else None
    status = c.enum(get("status"), "status", S.STATUS_VALUES) if get("status") else "stable"
    tags = _tags(c, get("tags")) if get("tags") else ()
    references = _urls(c, get("references"), "references") if get("references") else ()
    runbook = None
    if get("runbook") is not None:
        runbook = c.string(get("runbook"), "runbook", example="https://wiki.example.com/runbook")
        if runbook is not None and not S.URL_RE.match(runbook):
            c.err(
                get("runbook").line, f"runbook `{runbook}` is not an http(s) URL", "write https://…"
            )
    when = c.expr(get("when"), "when") if get("when") else None
    unless = _unless(c, get("unless")) if get("unless") is not None else ()
    dedup = _dedup(c, get("dedup")) if get("dedup") is not None else None
    threshold = _threshold(c, get("threshold")) if get("threshold") is not None else None
    outputs = _outputs(c, get("outputs")) if get("outputs") is not None else None
    tests = _tests(c, get("tests")) if get("tests") is not None else ()

    if any(p.level == "error" for p in c.problems):
        return None
    assert rule_id and title and severity and status and when is not None
    return Rule(
        id=rule_id,
        title=title,
        severity=severity,
        when=when,
        description=description,
        status=status,
        tags=tags,
        references=references,
        runbook=runbook,
        unless=unless,
        dedup=dedup,
        threshold=threshold,
        outputs=outputs,
        tests=tests,
        actions=derive_actions(when.compiled.parsed),
        file=c.file,
        line=root.line_of("id"),
    )


_REQUIRED_HINTS = {
    "id": "add `id: my-rule-name` (kebab-case, unique across files)",
    "title": 'add `title: "What happened, by {dbUserName}"`',
    "severity": "add `severity: medium` (info, low, medium, high, critical)",
    "when": "add `when: das.action == 'DDL'` (a JMESPath predicate)",
}


def _tags(c: _Check, node: YNode) -> tuple[str, ...]:
    items = c.seq(node, "tags", "[attack.t1110, attack.credential_access]") or []
    out = []
    for item in items:
        bad = S.tag_problem(item.value if item.kind == "scalar" else _node_type(item))
        if bad:
            c.err(item.line, bad[0], bad[1])
        else:
            out.append(item.value)
    return tuple(out)


def _urls(c: _Check, node: YNode, what: str) -> tuple[str, ...]:
    items = c.seq(node, what, "[https://attack.mitre.org/techniques/T1110/]") or []
    out = []
    for item in items:
        if item.kind == "scalar" and isinstance(item.value, str) and S.URL_RE.match(item.value):
            out.append(item.value)
        else:
            shown = item.value if item.kind == "scalar" else _node_type(item)
            c.err(item.line, f"`{what}` entry `{shown}` is not an http(s) URL", "write https://…")
    return tuple(out)


def _unless(c: _Check, node: YNode) -> tuple[Exemption, ...]:
    example = "- {when: \"dbUserName == 'flyway'\", reason: schema migrations, expires: 2027-06-30}"
    items = c.seq(node, "unless", example) or []
    out = []
    for item in items:
        if not c.mapping(item, "unless entry", example):
            continue
        c.keys(item, "an unless entry", S.UNLESS_KEYS)
        when = c.expr(item.get("when"), "unless.when") if item.get("when") else None
        if item.get("when") is None:
            c.err(item.line, "an unless entry needs `when`", "add `when: <JMESPath predicate>`")
        reason = c.string(item.get("reason"), "unless.reason") if item.get("reason") else None
        if item.get("reason") is None:
            c.err(
                item.line,
                "an unless entry needs `reason`: say why the exception is safe",
                "add `reason: nightly ETL job, ticket SEC-123`",
            )
        expires = None
        if item.get("expires") is not None:
            exp_node = item.get("expires")
            expires = S.parse_date(exp_node.value) if exp_node.kind == "scalar" else None
            if expires is None:
                shown = exp_node.src if exp_node.kind == "scalar" else _node_type(exp_node)
                c.err(
                    exp_node.line,
                    f"`expires` must be a date YYYY-MM-DD, not `{shown}`",
                    "write e.g. `expires: 2027-06-30`",
                )
        if when is not None and reason is not None:
            out.append(Exemption(when, reason, expires, item.line))
    return tuple(out)


def _dedup(c: _Check, node: YNode) -> Dedup | None:
    example = '{key: "[das.clusterId, dbUserName]", window: 1h}'
    if not c.mapping(node, "dedup", example):
        return None
    c.keys(node, "dedup", S.DEDUP_KEYS)
    key = c.expr(node.get("key"), "dedup.key") if node.get("key") is not None else None
    window = None
    if node.get("window") is None:
        c.err(node.line, "`dedup` needs a `window`", "add `window: 1h`")
    else:
        window = c.duration(node.get("window"), "dedup.window")
    return Dedup(key, window) if window else None


def _threshold(c: _Check, node: YNode) -> Threshold | None:
    example = '{count: 5, window: 5m, group_by: "[das.clusterId, remoteHost]"}'
    if not c.mapping(node, "threshold", example):
        return None
    c.keys(node, "threshold", S.THRESHOLD_KEYS)
    count = window = None
    if node.get("count") is None:
        c.err(node.line, "`threshold` needs a `count`", "add `count: 5`")
    else:
        count = c.integer(node.get("count"), "threshold.count", 1)
    if node.get("window") is None:
        c.err(node.line, "`threshold` needs a `window`", "add `window: 5m`")
    else:
        window = c.duration(node.get("window"), "threshold.window")
    group_by = None
    if node.get("group_by") is not None:
        group_by = c.expr(node.get("group_by"), "threshold.group_by")
    return Threshold(count, window, group_by) if count and window else None


def _outputs(c: _Check, node: YNode) -> tuple[str, ...] | None:
    items = c.seq(node, "outputs", "[slack, securityhub]")
    if items is None:
        return None
    if not items:
        c.err(
            node.line,
            "`outputs: []` would send the alerts nowhere",
            "remove `outputs` to route by severity, or name outputs: [slack, sns]",
        )
    out = []
    for item in items:
        if item.kind == "scalar" and isinstance(item.value, str) and item.value.strip():
            out.append(item.value)
        else:
            c.err(item.line, f"an output name must be a string, not {_node_type(item)}")
    return tuple(out)


# -- tests ------------------------------------------------------------------------------------


def _tests(c: _Check, node: YNode) -> tuple[RuleTest, ...]:
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


def _test(c: _Check, item: YNode, names: dict[str, int]) -> RuleTest | None:
    c.keys(item, "a test", S.TEST_KEYS)
    name = None
    if item.get("name") is None:
        c.err(item.line, "a test needs a `name`", "add `name: what this test proves`")
    else:
        name = c.string(item.get("name"), "tests.name")
        if name is not None and name in names:
            c.err(
                item.get("name").line,
                f"duplicate test name `{name}` (first at line {names[name]})",
                "give each test its own name",
            )
        elif name is not None:
            names[name] = item.get("name").line
    engine = S.DEFAULT_TEST_ENGINE
    if item.get("engine") is not None:
        engine = c.enum(item.get("engine"), "tests.engine", S.ENGINE_VALUES)
    events = _test_events(c, item)
    expect = None
    if item.get("expect") is None:
        c.err(item.line, "a test needs `expect`", "add `expect: {match: true}` or `{match: false}`")
    else:
        expect = _expect(c, item.get("expect"))
    if name is None or engine is None or events is None or expect is None:
        return None
    return RuleTest(name=name, events=events, expect=expect, engine=engine, line=item.line)


def _test_events(c: _Check, item: YNode) -> tuple[dict[str, Any], ...] | None:
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
        c.err(many.line, "`events` is empty", "list at least one event")
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
                    f"`at` must be an offset like +30s, not `{at_node.src or _node_type(at_node)}`",
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


def _expect(c: _Check, node: YNode) -> dict[str, Any] | None:
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
        elif head not in _ALERT_FIELDS:
            sugg = (
                did_you_mean(key, S.EXPECT_KEYS)
                or f"expect `match`, `alerts` or an alert field: {', '.join(_ALERT_FIELDS)}"
            )
            c.err(line, f"unknown key `{key}` in expect", sugg)
            ok = False
        elif key == "severity" and value.value not in S.SEVERITY_VALUES:
            c.enum(value, "expect.severity", S.SEVERITY_VALUES)
            ok = False
    return node.plain(dates_as_text=True) if ok else None


def _expect_alert_list(c: _Check, node: YNode) -> bool:
    """``alerts: [{dedup_key: …}, {…}]``: one mapping of alert fields per expected alert."""
    ok = True
    for item in node.value:
        if not c.mapping(item, "expect.alerts entry", "{severity: high, count: 2}"):
            ok = False
            continue
        for key in item.value:
            if key.split(".", 1)[0] not in _ALERT_FIELDS:
                sugg = (
                    did_you_mean(key, _ALERT_FIELDS) or f"alert fields: {', '.join(_ALERT_FIELDS)}"
                )
                c.err(item.line_of(key), f"unknown alert field `{key}` in expect.alerts", sugg)
                ok = False
    return ok


# -- lists.yaml -------------------------------------------------------------------------------


def load_lists_text(
    text: str, file: str
) -> tuple[dict[str, list[Any]], dict[str, Any], list[Problem]]:
    """``lists: {name: [values…]}`` and ``params: {name: value}``."""
    root, problems = parse_yaml(text, file)
    lists: dict[str, list[Any]] = {}
    params: dict[str, Any] = {}
    if root is None:
        return lists, params, problems
    c = _Check(file, {}, {})
    c.problems.extend(problems)
    if not c.mapping(
        root, "lists.yaml", "lists: {admins: [rdsadmin]} and params: {large_read_rows: 100000}"
    ):
        return lists, params, c.problems
    c.keys(root, "lists.yaml", S.LISTS_FILE_KEYS)
    if root.get("lists") is not None and c.mapping(
        root.get("lists"), "lists", "{admins: [rdsadmin, RDSADMIN]}"
    ):
        lnode = root.get("lists")
        for name, values in lnode.value.items():
            if not S.NAME_RE.match(name):
                c.err(
                    lnode.line_of(name),
                    f"list name `{name}` is not a plain name",
                    "use letters, digits and _",
                )
                continue
            items = c.seq(values, f"lists.{name}", "[rdsadmin, rdsproxyadmin]")
            if items is None:
                continue
            good = []
            for it in items:
                if (
                    it.kind == "scalar"
                    and isinstance(it.value, str | int | float)
                    and not isinstance(it.value, bool)
                ):
                    good.append(it.value)
                else:
                    c.err(
                        it.line, f"list `{name}` may hold strings and numbers, not {_node_type(it)}"
                    )
            lists[name] = good
    if root.get("params") is not None and c.mapping(
        root.get("params"), "params", "{large_read_rows: 100000}"
    ):
        pnode = root.get("params")
        for name, value in pnode.value.items():
            if not S.NAME_RE.match(name):
                c.err(
                    pnode.line_of(name),
                    f"param name `{name}` is not a plain name",
                    "use letters, digits and _",
                )
                continue
            params[name] = value.plain(dates_as_text=True)
    return lists, params, c.problems


# -- paths ------------------------------------------------------------------------------------


def _read(path: Path) -> tuple[str | None, Problem | None]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None, Problem(str(path), None, None, f"file larger than {MAX_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError:
        return None, Problem(str(path), None, None, "not UTF-8 text")
    except OSError as exc:
        return None, Problem(str(path), None, None, f"cannot read: {exc.strerror or exc}")


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path], list[Problem]]:
    """(rule files, lists files, problems) for the given files and directories."""
    rule_files: list[Path] = []
    list_files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())
            rule_files += [f for f in found if f.name not in S.LISTS_FILE_NAMES]
            list_files += [f for f in found if f.name in S.LISTS_FILE_NAMES]
        elif p.is_file():
            if p.name in S.LISTS_FILE_NAMES:
                list_files.append(p)
            else:
                rule_files.append(p)
                list_files += [p.parent / n for n in S.LISTS_FILE_NAMES if (p.parent / n).is_file()]
        else:
            problems.append(Problem(str(p), None, None, "no such file or directory"))
    dedup = lambda fs: list(dict.fromkeys(f.resolve() for f in fs))  # noqa: E731
    keep = {f.resolve(): f for f in rule_files + list_files}
    return [keep[f] for f in dedup(rule_files)], [keep[f] for f in dedup(list_files)], problems


def load_rules(
    paths: str | Path | Iterable[str | Path], *, lists_path: str | Path | None = None
) -> LoadResult:
    """Every rule under ``paths`` that validates, the lists and params, and all problems."""
    if isinstance(paths, str | Path):
        paths = [paths]
    rule_files, list_files, problems = discover(paths)
    if lists_path is not None:
        list_files = [Path(lists_path)]
    lists: dict[str, list[Any]] = {}
    params: dict[str, Any] = {}
    seen_names: dict[str, str] = {}
    for lf in list_files:
        text, problem = _read(lf)
        if problem:
            problems.append(problem)
            continue
        ls, ps, lps = load_lists_text(text or "", str(lf))
        problems += lps
        for section, new, into in (("list", ls, lists), ("param", ps, params)):
            for name, value in new.items():
                key = f"{section}:{name}"
                if key in seen_names:
                    problems.append(
                        Problem(
                            str(lf),
                            None,
                            None,
                            f"{section} `{name}` is also defined in {seen_names[key]}",
                            "keep one definition",
                        )
                    )
                    continue
                seen_names[key] = str(lf)
                into[name] = value
    rules: list[Rule] = []
    key_lines: dict[str, dict[str, int]] = {}
    first_seen: dict[str, Rule] = {}
    for rf in rule_files:
        text, problem = _read(rf)
        if problem:
            problems.append(problem)
            continue
        rule, rps, lines = load_rule_text(text or "", str(rf), lists, params)
        problems += rps
        if rule is None:
            continue
        if rule.id in first_seen:
            prev = first_seen[rule.id]
            problems.append(
                Problem(
                    rule.file,
                    rule.line,
                    rule.id,
                    f"duplicate rule id `{rule.id}` (also in {prev.file}:{prev.line})",
                    "give each rule its own id",
                )
            )
            continue
        first_seen[rule.id] = rule
        rules.append(rule)
        key_lines[rule.id] = lines
    return LoadResult(rules, lists, params, problems, [str(f) for f in rule_files], key_lines)
