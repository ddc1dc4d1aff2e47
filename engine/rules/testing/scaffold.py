"""``dasalert new``: a rule file that already works, so an author edits instead of starting blank.

The scaffold is a complete, *passing* rule — one positive and one near-miss test per chosen
engine, a runbook beside it — because the fastest way to learn the format is to change something
that runs. Its predicate (a dropped table) is deliberately simple and its near miss (a created
table) differs from the positive in one field, which is the habit a good negative test teaches:
stay quiet on the event that looks most like the attack.

Each test event uses the field shapes each engine really sends for the statement (PostgreSQL's
``class: DDL``, MySQL's ``MAIN``/``QUERY``, Oracle's ``Standard``, SQL Server's ``TABLE``/``DROP``),
and the expected titles are computed by running the tests, so they are right by construction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.events import ENGINES

# engine -> (positive partial event, near-miss partial event)
_EVENTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "postgres": (
        {
            "class": "DDL",
            "command": "DROP TABLE",
            "commandText": "DROP TABLE public.orders",
            "objectName": "public.orders",
            "objectType": "TABLE",
        },
        {
            "class": "DDL",
            "command": "CREATE TABLE",
            "commandText": "CREATE TABLE public.orders_tmp (id bigint)",
            "objectName": "public.orders_tmp",
            "objectType": "TABLE",
        },
    ),
    "mysql": (
        {
            "class": "MAIN",
            "command": "QUERY",
            "commandText": "DROP TABLE `shop`.`orders`",
            "objectName": "orders",
            "objectType": "TABLE",
        },
        {
            "class": "MAIN",
            "command": "QUERY",
            "commandText": "CREATE TABLE `shop`.`orders_tmp` (`id` INT)",
            "objectName": "orders_tmp",
            "objectType": "TABLE",
        },
    ),
    "oracle": (
        {
            "command": "DROP TABLE",
            "commandText": "DROP TABLE HR.ORDERS PURGE",
            "objectName": "ORDERS",
            "objectType": "HR",
        },
        {
            "command": "CREATE TABLE",
            "commandText": "CREATE TABLE HR.ORDERS_TMP (ID NUMBER)",
            "objectName": "ORDERS_TMP",
            "objectType": "HR",
        },
    ),
    "sqlserver": (
        {
            "class": "TABLE",
            "command": "DROP",
            "commandText": "DROP TABLE [testDB].[dbo].[Orders]",
            "objectName": "Orders",
            "objectType": "TABLE",
        },
        {
            "class": "SCHEMA",
            "command": "ALTER",
            "commandText": "CREATE TABLE [testDB].[dbo].[OrdersTmp] (Id INT)",
            "objectName": "dbo",
            "objectType": "SCHEMA",
        },
    ),
}

# engine -> (failed login, successful login): the shapes each engine reports them in
_LOGINS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "postgres": (
        {"class": "MISC", "command": "AUTH FAILURE", "commandText": None, "exitCode": "28P01"},
        {"class": "MISC", "command": "CONNECT", "commandText": None, "exitCode": None},
    ),
    "mysql": (
        {"class": "MAIN", "command": "FAILED_CONNECT", "commandText": "", "exitCode": "1045"},
        {"class": "MAIN", "command": "CONNECT", "commandText": "", "exitCode": "0"},
    ),
    "oracle": (
        {"command": "LOGON", "commandText": None, "exitCode": 1017},
        {"command": "LOGON", "commandText": None, "exitCode": 0},
    ),
    "sqlserver": (
        {"class": "LOGIN", "command": "LOGIN FAILED", "exitCode": 0, "commandText": None},
        {"class": "LOGIN", "command": "LOGIN SUCCEEDED", "exitCode": 1, "commandText": None},
    ),
}
KINDS = ("statement", "threshold", "sequence")
HOST = {"remoteHost": "203.0.113.7"}

TITLE = "Table dropped by {dbUserName} on {databaseName} ({das.engine})"
TITLES = {
    "statement": TITLE,
    "threshold": "Failed logins from {remoteHost} ({das.engine})",
    "sequence": "Login from {remoteHost} after failures ({das.engine})",
}
WHEN = "das.action == 'DDL' && das.verb == 'DROP TABLE'"
TITLE_PLACEHOLDER = "@@TITLE:{engine}@@"


class ScaffoldError(ValueError):
    """The id or an engine is wrong, or a file would be overwritten."""


@dataclass(frozen=True)
class Scaffold:
    rule_file: Path
    runbook_file: Path
    rule_text: str
    runbook_text: str


def parse_engines(values: Sequence[str] | None) -> list[str]:
    """``--engine`` values (repeatable, comma lists, ``all``) as engine names, in ENGINES order."""
    from engine.events.engines import engine_from_name

    if not values:
        return list(ENGINES)
    wanted: set[str] = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part == "all":
                wanted.update(ENGINES)
                continue
            name = engine_from_name(part)
            if name is None:
                raise ScaffoldError(
                    f"unknown engine {part!r}: expected {', '.join(ENGINES)} or all"
                )
            wanted.add(name)
    return [e for e in ENGINES if e in wanted]


def _block(event: dict[str, Any], indent: str) -> list[str]:
    """A partial event as YAML block-mapping lines (a JSON string is a valid YAML scalar)."""
    return [f"{indent}{k}: {json.dumps(v)}" for k, v in event.items()]


def _flow(event: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in event.items()) + "}"


def _events(events: list[dict[str, Any]]) -> list[str]:
    return ["    events:", *(f"      - {_flow(e)}" for e in events)]


def _test(name: str, engine: str, body: list[str], expect: str) -> list[str]:
    return [f"  - name: {name} ({engine})", f"    engine: {engine}", *body, f"    expect: {expect}"]


def rule_text(
    rule_id: str, engines: Sequence[str], severity: str = "medium", kind: str = "statement"
) -> str:
    """The rule file, with placeholders where the expected titles go.

    ``statement``: one event matches (a dropped table); ``threshold``: N matching events per
    group in a window (failed logins per host); ``sequence``: ordered steps by one key (failed
    logins, then a login that works, from one host).
    """
    if kind not in KINDS:
        raise ScaffoldError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    lines = [
        f"# Scaffolded by `dasalert new {rule_id}`. Change the predicate, the title and the tests,",
        "# then: dasalert lint <rules dir> && dasalert test <rules dir> -k " + rule_id,
        "# The fields a test does not give come from `dasalert base-event ENGINE`;",
        "# `dasalert test --explain` shows why each test event matches or not.",
        f"id: {rule_id}",
        f'title: "{TITLES[kind]}"',
        "description: >-",
        "  TODO: what this detects, why it matters, and what a benign match looks like.",
        f"severity: {severity}",
        "status: experimental   # alerts go to the staging route until you set `stable`",
        "tags: [attack.impact]" if kind == "statement" else "tags: [attack.credential_access]",
        f"runbook: runbooks/{rule_id}.md",
    ]
    group = '"[das.clusterId || das.instanceId, remoteHost]"'
    if kind == "statement":
        lines += [
            "when: >-",
            f"  {WHEN}",
            'dedup: {key: "[das.clusterId || das.instanceId, dbUserName]", window: 1h}',
        ]
    elif kind == "threshold":
        lines += [
            "when: das.action == 'LOGIN_FAILED'",
            f"threshold: {{count: 3, window: 5m, group_by: {group}}}",
        ]
    else:
        lines += [
            "sequence:",
            f"  by: {group}",
            "  within: 10m",
            "  steps:",
            "    - {name: failed logins, when: \"das.action == 'LOGIN_FAILED'\", min: 3}",
            "    - {name: a login that works, when: \"das.action == 'CONNECT'\"}",
        ]
    lines.append("tests:")
    for engine in engines:
        title = TITLE_PLACEHOLDER.format(engine=engine)
        hit = f'{{match: true, title: "{title}"}}'
        if kind == "statement":
            positive, near_miss = _EVENTS[engine]
            lines += _test(
                "a table is dropped", engine, ["    event:", *_block(positive, "      ")], hit
            )
            lines += _test(
                "near miss, a table is created",
                engine,
                ["    event:", *_block(near_miss, "      ")],
                "{match: false}",
            )
            continue
        fail, ok = ({**e, **HOST} for e in _LOGINS[engine])
        if kind == "threshold":
            lines += _test("three failed logins from one host", engine, _events([fail] * 3), hit)
            lines += _test(
                "near miss, two failed logins", engine, _events([fail] * 2), "{match: false}"
            )
        else:
            lines += _test(
                "three failures then a login that works", engine, _events([fail] * 3 + [ok]), hit
            )
            lines += _test(
                "near miss, two failures then a login",
                engine,
                _events([fail] * 2 + [ok]),
                "{match: false}",
            )
    return "\n".join(lines) + "\n"


def runbook_text(rule_id: str) -> str:
    return f"""# Runbook: {rule_id}

What the alert means: TODO (one paragraph a responder can read at 3 a.m.).

1. **Who and where.** The alert names the user, the server (cluster or instance) and the
   statement. Is the user a person, an application or an admin account?
2. **Expected?** Check the change calendar and ask the owner of the database.
3. **If not expected**: TODO (revoke, lock the account, restore from a snapshot…).
4. **If benign and recurring**: add an `unless` entry with a reason and an expiry to the rule.
"""


def _titles(text: str, file: str) -> dict[str, str]:
    """The title each positive test produces: run the tests once, read the alerts."""
    from engine.rules.lang.loader import load_rule_text
    from engine.rules.testing.runner import run_test

    placeholder_free = text
    for engine in ENGINES:
        placeholder_free = placeholder_free.replace(
            f', title: "{TITLE_PLACEHOLDER.format(engine=engine)}"', ""
        )
    # the runbook does not exist yet: validate against a URL so loading does not fail on it
    rule, problems, _ = load_rule_text(
        placeholder_free.replace("runbook: runbooks/", "runbook: https://example.invalid/"), file
    )
    if rule is None:  # a bug of ours: the template must always load
        raise ScaffoldError("the scaffold does not load: " + "; ".join(map(str, problems)))
    titles = {}
    for test in rule.tests:
        if test.expect.get("match") and test.engine:
            outcome = run_test(rule, test)
            if outcome.alerts:
                titles[test.engine] = str(outcome.alerts[0]["title"])
    return titles


def scaffold(
    rule_id: str,
    rules_dir: str | Path,
    engines: Sequence[str] | None = None,
    *,
    severity: str = "medium",
    kind: str = "statement",
) -> Scaffold:
    """Build (not write) the rule and runbook files for ``rule_id`` under ``rules_dir``."""
    from engine.rules.lang.schema import RULE_ID_RE, SEVERITY_VALUES, kebab

    if not RULE_ID_RE.match(rule_id):
        raise ScaffoldError(
            f"rule id {rule_id!r} is not kebab-case — write `{kebab(rule_id) or 'my-rule'}`"
        )
    if severity not in SEVERITY_VALUES:
        raise ScaffoldError(f"severity {severity!r}: expected one of {', '.join(SEVERITY_VALUES)}")
    chosen = parse_engines(engines)
    directory = Path(rules_dir)
    rule_file = directory / f"{rule_id}.yaml"
    text = rule_text(rule_id, chosen, severity, kind)
    titles = _titles(text, str(rule_file))
    for engine in chosen:
        title = titles.get(engine, "").replace("\\", "\\\\").replace('"', '\\"')
        text = text.replace(TITLE_PLACEHOLDER.format(engine=engine), title)
    return Scaffold(
        rule_file=rule_file,
        runbook_file=directory / "runbooks" / f"{rule_id}.md",
        rule_text=text,
        runbook_text=runbook_text(rule_id),
    )


def write(sc: Scaffold, *, force: bool = False) -> list[Path]:
    """Write the files; refuse to overwrite an existing one unless ``force`` (which replaces
    both: a half-replaced pair is more confusing than either), and refuse an id another file
    already declares (the loader would reject the second one)."""
    existing = [p for p in (sc.rule_file, sc.runbook_file) if p.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise ScaffoldError(f"{names} already exists — pick another id, or pass --force")
    rules_dir = sc.rule_file.parent
    clash = (
        [
            p
            for p in rules_dir.rglob("*.y*ml")
            if p.resolve() != sc.rule_file.resolve() and _declares_id(p, sc.rule_file.stem)
        ]
        if rules_dir.is_dir()
        else []
    )
    if clash:
        raise ScaffoldError(f"rule id {sc.rule_file.stem!r} is already used by {clash[0]}")
    sc.runbook_file.parent.mkdir(parents=True, exist_ok=True)
    sc.rule_file.write_text(sc.rule_text, encoding="utf-8")
    sc.runbook_file.write_text(sc.runbook_text, encoding="utf-8")
    return [sc.rule_file, sc.runbook_file]


def _declares_id(path: Path, rule_id: str) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError:
        return False
    return any(line.strip() in (f"id: {rule_id}", f'id: "{rule_id}"') for line in head.splitlines())
