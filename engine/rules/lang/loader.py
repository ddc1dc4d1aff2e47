"""Loading rule files: YAML → validated, compiled ``Rule`` objects, or Problems that teach.

Every check runs on every file and every problem is collected — an author fixes a file in one
pass, not one error per run. A file with an error yields no rule; the other files still load,
so one typo never silences the whole pack. Nothing here raises for bad input: arbitrary YAML
gives rules or problems (a hypothesis test holds us to it).

The reading of each shape lives in ``validate`` (the Checker), the tests section in
``testspec`` and ``lists.yaml`` in ``lists``; this module holds the rule's top-level keys and
the walk over paths.

Paths: a directory means every ``*.yaml``/``*.yml`` below it except ``lists.yaml``; the named
lists and params come from ``lists.yaml`` beside the rules (the directory, or the file's
folder), or from ``lists_path``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.rules.lang import schema as S
from engine.rules.lang.expr import compile_expr
from engine.rules.lang.lists import load_lists_text
from engine.rules.lang.testspec import read_tests
from engine.rules.lang.tune import Tune, TuneStatus, apply_tunes, is_tune_file, read_tunes
from engine.rules.lang.validate import Checker, node_type
from engine.rules.lang.yamlsrc import YNode, parse_yaml
from engine.rules.model import (
    Dedup,
    Escalation,
    Exemption,
    Expr,
    FirstSeen,
    Problem,
    Rule,
    Sequence,
    SequenceStep,
    Threshold,
)
from engine.rules.runtime.index import derive_actions

__all__ = [
    "LoadResult",
    "discover",
    "load_lists_text",
    "load_rule_text",
    "load_rules",
    "split_paths",
]

MAX_FILE_BYTES = 1_000_000


@dataclass
class LoadResult:
    rules: list[Rule]
    lists: dict[str, list[Any]]
    params: dict[str, Any]
    problems: list[Problem]
    files: list[str] = field(default_factory=list)  # rule files read
    # rule id -> key (``when``, ``outputs``, ``title``, …) -> line: where lint points
    key_lines: dict[str, dict[str, int]] = field(default_factory=dict)
    # what each ``tune:`` entry did, and the rules it disabled (the effective pack)
    tunes: list[TuneStatus] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


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
    c = Checker(file, lists, params)
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


def _rule(c: Checker, root: YNode) -> Rule | None:
    if root.kind != "map":
        c.err(
            root.line,
            f"a rule file holds one mapping (id, title, when, …), not {node_type(root)}",
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
        if key == "when" and "sequence" in root.value:
            continue  # each step has its own `when`; a rule-level one filters every step
        if key not in root.value:
            c.err(root.line, f"missing required key `{key}`", _REQUIRED_HINTS[key])

    title = (
        c.string(get("title"), "title", example='"DDL by {dbUserName}"')
        if get("title") is not None
        else rule_id  # no title: the alert is titled by the rule id
    )
    description = ""
    if get("description") is not None:
        description = c.string(get("description"), "description") or ""
    severity = c.enum(get("severity"), "severity", S.SEVERITY_VALUES) if get("severity") else None
    status = c.enum(get("status"), "status", S.STATUS_VALUES) if get("status") else "stable"
    tags = _tags(c, n) if (n := get("tags")) else ()
    references = _urls(c, n, "references") if (n := get("references")) else ()
    runbook = None
    if (runbook_node := get("runbook")) is not None:
        runbook = c.string(runbook_node, "runbook", example="https://wiki.example.com/runbook")
        if runbook is not None and not runbook_ok(runbook, c.file):
            # A warning here, an error in `dasalert lint`: a runbook is help for the responder,
            # and a pack copied without its runbooks/ folder must not stop detecting.
            c.problems.append(
                Problem(
                    c.file,
                    runbook_node.line,
                    c.rule_id,
                    f"runbook `{runbook}` is not an http(s) URL, nor a file beside the rule "
                    "(the rule runs; `dasalert lint` fails until it is fixed)",
                    "write https://… or a path relative to the rule file, e.g. runbooks/my-rule.md",
                    level="warning",
                )
            )
    when = c.expr(get("when"), "when") if get("when") else None
    unless = _unless(c, n) if (n := get("unless")) is not None else ()
    dedup = _dedup(c, n) if (n := get("dedup")) is not None else None
    threshold = _threshold(c, n) if (n := get("threshold")) is not None else None
    escalate = _escalate(c, n) if (n := get("escalate")) is not None else ()
    sequence = _sequence(c, n) if (n := get("sequence")) is not None else None
    first_seen = _first_seen(c, n) if (n := get("first_seen")) is not None else None
    _exclusive(c, root)
    outputs = _outputs(c, n) if (n := get("outputs")) is not None else None
    tests = read_tests(c, n) if (n := get("tests")) is not None else ()

    if any(p.level == "error" for p in c.problems):
        return None
    if sequence is not None:
        when = _sequence_when(when, sequence)
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
        escalate=escalate,
        sequence=sequence,
        first_seen=first_seen,
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


def _tags(c: Checker, node: YNode) -> tuple[str, ...]:
    items = c.seq(node, "tags", "[attack.t1110, attack.credential_access]") or []
    out = []
    for item in items:
        bad = S.tag_problem(item.value if item.kind == "scalar" else node_type(item))
        if bad:
            c.err(item.line, bad[0], bad[1])
        else:
            out.append(item.value)
    return tuple(out)


def runbook_ok(runbook: str, file: str) -> bool:
    """An http(s) URL, or a Markdown runbook shipped with the rule pack (relative to the rule
    file, so it travels into the Lambda bundle with ``rules/``) — checked to exist, so a typo is
    caught here and not by a responder in the middle of an incident."""
    if S.URL_RE.match(runbook):
        return True
    path = Path(runbook)
    return not path.is_absolute() and (Path(file).parent / path).is_file()


def _urls(c: Checker, node: YNode, what: str) -> tuple[str, ...]:
    items = c.seq(node, what, "[https://attack.mitre.org/techniques/T1110/]") or []
    out = []
    for item in items:
        if item.kind == "scalar" and isinstance(item.value, str) and S.URL_RE.match(item.value):
            out.append(item.value)
        else:
            shown = item.value if item.kind == "scalar" else node_type(item)
            c.err(item.line, f"`{what}` entry `{shown}` is not an http(s) URL", "write https://…")
    return tuple(out)


def _unless(c: Checker, node: YNode) -> tuple[Exemption, ...]:
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
        if (exp_node := item.get("expires")) is not None:
            expires = S.parse_date(exp_node.value) if exp_node.kind == "scalar" else None
            if expires is None:
                shown = exp_node.src if exp_node.kind == "scalar" else node_type(exp_node)
                c.err(
                    exp_node.line,
                    f"`expires` must be a date YYYY-MM-DD, not `{shown}`",
                    "write e.g. `expires: 2027-06-30`",
                )
        if when is not None and reason is not None:
            out.append(Exemption(when, reason, expires, item.line))
    return tuple(out)


def _dedup(c: Checker, node: YNode) -> Dedup | None:
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


def _threshold(c: Checker, node: YNode) -> Threshold | None:
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
    distinct = None
    if node.get("distinct") is not None:
        distinct = c.expr(node.get("distinct"), "threshold.distinct")
    return Threshold(count, window, group_by, distinct) if count and window else None


_STATEFUL_KEYS = ("threshold", "sequence", "first_seen")


def _exclusive(c: Checker, root: YNode) -> None:
    """A rule is one kind: per event (optionally ``dedup``), threshold, sequence or first seen."""
    present = [k for k in _STATEFUL_KEYS if k in root.value]
    if len(present) > 1:
        c.err(
            root.line_of(present[1]),
            f"a rule has at most one of {', '.join(_STATEFUL_KEYS)}; this one has "
            f"{' and '.join(present)}",
            "split it into two rules",
        )
    if present and present[0] != "threshold" and "dedup" in root.value:
        c.err(
            root.line_of("dedup"),
            f"`dedup` does not apply to a `{present[0]}` rule: it alerts once per "
            + ("completed sequence" if present[0] == "sequence" else "new value"),
            "remove `dedup`",
        )


def _sequence_when(when: Expr | None, seq: Sequence) -> Expr:
    """The rule-level predicate the evaluation index sees: ``when && (step1 || step2 …)``.

    Every step was validated on its own, so the combination parses; an event that matches no
    step never reaches the sequence state (nor costs a state call).
    """
    steps = " || ".join(f"({step.when.src})" for step in seq.steps)
    src = f"({when.src}) && ({steps})" if when is not None else steps
    return compile_expr(src)


def _escalate(c: Checker, node: YNode) -> tuple[Escalation, ...]:
    example = "- {when: \"!cidr_match(remoteHost, 'internal_nets')\", severity: critical}"
    items = c.seq(node, "escalate", example) or []
    out = []
    for item in items:
        if not c.mapping(item, "escalate entry", example):
            continue
        c.keys(item, "an escalate entry", S.ESCALATE_KEYS)
        when = c.expr(item.get("when"), "escalate.when") if item.get("when") else None
        if item.get("when") is None:
            c.err(item.line, "an escalate entry needs `when`", "add `when: <JMESPath predicate>`")
        severity = None
        if item.get("severity") is None:
            c.err(item.line, "an escalate entry needs `severity`", "add `severity: critical`")
        else:
            severity = c.enum(item.get("severity"), "escalate.severity", S.SEVERITY_VALUES)
        if when is not None and severity is not None:
            out.append(Escalation(when, severity, item.line))
    return tuple(out)


def _sequence(c: Checker, node: YNode) -> Sequence | None:
    example = (
        '{by: "[das.clusterId, remoteHost]", within: 10m, steps: '
        "[{when: \"das.action == 'LOGIN_FAILED'\", min: 5}, {when: \"das.action == 'CONNECT'\"}]}"
    )
    if not c.mapping(node, "sequence", example):
        return None
    c.keys(node, "sequence", S.SEQUENCE_KEYS)
    by = c.expr(node.get("by"), "sequence.by") if node.get("by") is not None else None
    within = None
    if node.get("within") is None:
        c.err(node.line, "`sequence` needs `within` (the longest it may take)", "add `within: 10m`")
    else:
        within = c.duration(node.get("within"), "sequence.within")
    steps: list[SequenceStep] = []
    ok = True
    steps_node = node.get("steps")
    if steps_node is None:
        c.err(node.line, "`sequence` needs `steps`", f"write {example}")
        return None
    items = c.seq(steps_node, "sequence.steps", "[{when: ..., min: 5}, {when: ...}]") or []
    if steps_node.kind == "seq" and not 2 <= len(items) <= S.MAX_SEQUENCE_STEPS:
        c.err(
            steps_node.line,
            f"a sequence has 2 to {S.MAX_SEQUENCE_STEPS} steps, not {len(items)}",
            "for one step, write a rule with `when` (and `threshold` for a count)",
        )
        ok = False
    for item in items:
        if not c.mapping(item, "sequence step", "{when: \"das.action == 'CONNECT'\", min: 1}"):
            ok = False
            continue
        c.keys(item, "a sequence step", S.SEQUENCE_STEP_KEYS)
        when = c.expr(item.get("when"), "sequence.steps.when") if item.get("when") else None
        if item.get("when") is None:
            c.err(item.line, "a sequence step needs `when`", "add `when: <JMESPath predicate>`")
        minimum = 1
        if (min_node := item.get("min")) is not None:
            minimum = c.integer(min_node, "sequence.steps.min", 1) or 0
            if minimum > S.MAX_STEP_MIN:
                c.err(min_node.line, f"`min` is at most {S.MAX_STEP_MIN}")
                minimum = 0
        name = None
        if item.get("name") is not None:
            name = c.string(item.get("name"), "sequence.steps.name")
        if when is None or minimum < 1:
            ok = False
            continue
        steps.append(SequenceStep(when, minimum, name))
    if not ok or within is None:
        return None
    return Sequence(by, within, tuple(steps))


def _first_seen(c: Checker, node: YNode) -> FirstSeen | None:
    example = '{key: "[dbUserName, remoteHost]", scope: das.clusterId, learn: 14d, remember: 90d}'
    # or {key: dbUserName, scope: das.clusterId, dormant: 30d, remember: 400d}
    if not c.mapping(node, "first_seen", example):
        return None
    c.keys(node, "first_seen", S.FIRST_SEEN_KEYS)
    key = None
    if node.get("key") is None:
        c.err(node.line, "`first_seen` needs `key` (what is new)", "add `key: remoteHost`")
    else:
        key = c.expr(node.get("key"), "first_seen.key")
    scope = c.expr(node.get("scope"), "first_seen.scope") if node.get("scope") else None
    learn = remember = dormant = None
    dormant_node = node.get("dormant")
    if dormant_node is not None:
        dormant = c.duration(dormant_node, "first_seen.dormant", S.MAX_REMEMBER_S)
    if node.get("learn") is None:
        if dormant_node is None:  # a dormant rule alerts only on values it has seen: no learning
            c.err(
                node.line, "`first_seen` needs `learn` (how long to only learn)", "add `learn: 14d`"
            )
        else:
            learn = 0
    else:
        learn = c.duration(node.get("learn"), "first_seen.learn", S.MAX_REMEMBER_S)
    if node.get("remember") is None:
        remember = max(90 * 86400, S.dormant_remember_s(dormant)) if dormant else 90 * 86400
    else:
        remember = c.duration(node.get("remember"), "first_seen.remember", S.MAX_REMEMBER_S)
    if dormant is not None and remember is not None and remember < S.dormant_remember_s(dormant):
        days = -(-S.dormant_remember_s(dormant) // 86400)
        c.err(
            node.line_of("remember") if node.get("remember") is not None else node.line,
            f"`first_seen.remember` must be longer than `dormant`: a value is forgotten "
            f"`remember` after it was last seen, so it could never come back after "
            f"`{dormant_node.value}` of silence",  # type: ignore[union-attr]
            f"write `remember: {days}d` or more",
        )
        return None
    if (
        key is None
        or learn is None
        or remember is None
        or (dormant_node is not None and dormant is None)
    ):
        return None
    return FirstSeen(key, scope, learn, remember, dormant)


def _outputs(c: Checker, node: YNode) -> tuple[str, ...] | None:
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
            c.err(item.line, f"an output name must be a string, not {node_type(item)}")
    return tuple(out)


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


def split_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Rule folders in order: ``DASALERT_RULES=rules:/opt/ours`` (``os.pathsep``-separated) or
    ``--rules`` given several times; later folders tune earlier ones."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    out: list[Path] = []
    for item in items:
        out += [Path(part) for part in str(item).split(os.pathsep) if part]
    return out


def load_rules(
    paths: str | Path | Iterable[str | Path],
    *,
    lists_path: str | Path | None = None,
    today: dt.date | None = None,
) -> LoadResult:
    """Every rule under ``paths`` that validates, the lists and params, and all problems.

    Several paths layer: a later one adds rules, *extends* a list of the same name (its values
    are added), *overrides* a param, and may hold ``tune:`` files (``engine.rules.lang.tune``)
    that add an exception to a rule or disable it. Within one path a name is defined once.
    ``today`` (default: the UTC date) decides whether a ``disable`` has expired.
    """
    folders = split_paths(paths)
    problems: list[Problem] = []
    lists: dict[str, list[Any]] = {}
    params: dict[str, Any] = {}
    rule_files: list[Path] = []
    layers: list[list[Path]] = []
    for folder in folders:
        found_rules, found_lists, found_problems = discover([folder])
        problems += found_problems
        rule_files += [f for f in found_rules if f not in rule_files]
        layers.append(found_lists)
    if lists_path is not None:
        layers = [[Path(lists_path)]]
    for list_files in layers:
        _read_lists(list_files, lists, params, problems)
    rules: list[Rule] = []
    key_lines: dict[str, dict[str, int]] = {}
    first_seen: dict[str, Rule] = {}
    tunes: list[Tune] = []
    for rf in rule_files:
        text, problem = _read(rf)
        if problem:
            problems.append(problem)
            continue
        root, _ = parse_yaml(text or "", str(rf))
        if is_tune_file(root):
            assert root is not None
            c = Checker(str(rf), lists, params)
            tunes += read_tunes(c, root)
            problems += c.problems
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
                    "give each rule its own id; to change a shipped rule, `tune:` it",
                )
            )
            continue
        first_seen[rule.id] = rule
        rules.append(rule)
        key_lines[rule.id] = lines
    day = today or dt.datetime.now(dt.UTC).date()
    effective, statuses, tune_problems = apply_tunes(rules, tunes, day)
    problems += tune_problems
    return LoadResult(
        effective,
        lists,
        params,
        problems,
        [str(f) for f in rule_files],
        key_lines,
        tunes=statuses,
        disabled=[r.id for r in rules if r.id not in _ids(effective)],
    )


def _ids(rules: list[Rule]) -> set[str]:
    return {r.id for r in rules}


def _read_lists(
    list_files: list[Path],
    lists: dict[str, list[Any]],
    params: dict[str, Any],
    problems: list[Problem],
) -> None:
    """One layer's lists.yaml files: names once per layer; an earlier layer's list is extended
    and its params overridden."""
    seen_names: dict[str, str] = {}
    for lf in list_files:
        text, problem = _read(lf)
        if problem:
            problems.append(problem)
            continue
        ls, ps, lps = load_lists_text(text or "", str(lf))
        problems += lps
        for section, new in (("list", ls), ("param", ps)):
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
                if section == "param":
                    params[name] = value
                else:
                    known = lists.setdefault(name, [])
                    known += [v for v in value if v not in known]
