"""The loader: every validation error kind with file, line, rule id and suggestion."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from engine.rules.lang.loader import load_lists_text, load_rule_text, load_rules
from engine.rules.model import Problem, Rule

FIX = Path(__file__).resolve().parents[1] / "fixtures_lang"
LISTS = {"admins": ["rdsadmin", "flyway"], "office_nets": ["10.0.0.0/8"]}
PARAMS = {"large_read_rows": 100000}

GOOD = """\
id: ddl-by-non-admin
title: "DDL by {dbUserName}"
severity: high
when: das.action == 'DDL' && !in_list(dbUserName, 'admins')
"""


def load(text: str) -> tuple[Rule | None, list[Problem]]:
    rule, problems, _ = load_rule_text(textwrap.dedent(text), "r.yaml", LISTS, PARAMS)
    return rule, problems


def only(problems: list[Problem], needle: str) -> Problem:
    hits = [p for p in problems if needle in p.message]
    assert len(hits) == 1, f"{needle!r} not exactly once in {[str(p) for p in problems]}"
    return hits[0]


def with_line(text: str, line: str, replacement: str) -> str:
    assert line in text
    return text.replace(line, replacement)


# -- good rules -------------------------------------------------------------------------------


def test_minimal_rule_compiles_once_with_defaults():
    rule, problems = load(GOOD)
    assert problems == []
    assert rule is not None
    assert rule.id == "ddl-by-non-admin" and rule.severity == "high" and rule.status == "stable"
    assert rule.when.src.startswith("das.action")
    assert rule.actions == frozenset({"DDL"})
    assert rule.file == "r.yaml" and rule.line == 1
    assert rule.outputs is None and rule.dedup is None and rule.threshold is None


def test_fixture_pack_loads_with_lists_and_params():
    result = load_rules(FIX / "good")
    assert result.problems == []
    by_id = {r.id: r for r in result.rules}
    assert set(by_id) == {"ddl-by-non-admin", "brute-force-burst"}
    assert result.params == {"large_read_rows": 100000}
    assert "flyway" in result.lists["admins"]
    ddl = by_id["ddl-by-non-admin"]
    assert ddl.dedup is not None and ddl.dedup.window_s == 3600
    assert ddl.dedup.key is not None and ddl.dedup.key.src == "[das.clusterId, dbUserName]"
    assert ddl.unless[0].expires == dt.date(2027, 6, 30)
    assert ddl.unless[0].reason.startswith("deployments")
    assert ddl.unless[0].line == 11
    assert ddl.outputs == ("slack", "securityhub")
    assert ddl.tags == ("attack.persistence", "attack.t1098")
    first, second = ddl.tests
    # an unquoted timestamp stays the text DAS sends, not a YAML datetime
    assert first.events[0]["logTime"] == "2020-05-22 18:07:13.267214+00"
    assert first.engine == "postgres" and second.engine == "mysql"
    assert first.expect == {
        "match": True,
        "title": "DDL by non-admin app on postgres",
        "severity": "high",
    }
    brute = by_id["brute-force-burst"]
    assert brute.threshold is not None
    assert (brute.threshold.count, brute.threshold.window_s) == (5, 300)
    assert brute.threshold.group_by is not None
    # `at:` offsets become seconds after the base event's logTime
    assert [e.get("at") for e in brute.tests[0].events] == [None, 10, 20, 30, 40]
    assert brute.actions == frozenset({"LOGIN_FAILED", "CONNECT"})  # the index: union of ||
    assert result.key_lines["brute-force-burst"]["when"] == 5


def test_lists_found_beside_a_single_rule_file():
    result = load_rules(FIX / "good" / "ddl-by-non-admin.yaml")
    assert result.problems == []
    assert [r.id for r in result.rules] == ["ddl-by-non-admin"]


def test_explicit_lists_path(tmp_path):
    rule = tmp_path / "rules" / "r.yaml"
    rule.parent.mkdir()
    rule.write_text(GOOD)
    lists = tmp_path / "elsewhere.yaml"
    lists.write_text("lists: {admins: [x]}\n")
    assert load_rules(rule.parent).errors  # admins unknown without lists.yaml
    result = load_rules(rule.parent, lists_path=lists)
    assert result.problems == [] and result.lists == {"admins": ["x"]}


def test_directory_recurses_and_skips_lists_and_other_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.yml").write_text(GOOD.replace("ddl-by-non-admin", "deep"))
    (tmp_path / "top.yaml").write_text(GOOD)
    (tmp_path / "notes.txt").write_text("not a rule")
    (tmp_path / "lists.yaml").write_text("lists: {admins: [x]}\n")
    result = load_rules(tmp_path)
    assert result.problems == []
    assert sorted(r.id for r in result.rules) == ["ddl-by-non-admin", "deep"]
    assert len(result.files) == 2


def test_block_scalar_when_and_quoted_bang():
    rule, problems = load(
        """\
        id: x
        title: t
        severity: low
        when: "!in_list(dbUserName, 'admins')"
        unless:
          - when: >-
              cidr_match(remoteHost, 'office_nets')
              && dbUserName == 'flyway'
            reason: ok
        """
    )
    assert problems == [] and rule is not None
    assert rule.unless[0].when.src.startswith("cidr_match")


# -- every error kind -------------------------------------------------------------------------


def test_unknown_key_suggests_the_right_one():
    _, problems = load(GOOD + "severty: low\n")
    p = only(problems, "unknown key `severty`")
    assert (p.file, p.line, p.rule_id) == ("r.yaml", 5, "ddl-by-non-admin")
    assert p.suggestion == "did you mean `severity`?"
    assert p.level == "error"


def test_key_from_another_rule_language_is_translated():
    _, problems = load(GOOD + "level: high\n")
    assert only(problems, "unknown key `level`").suggestion == "did you mean `severity`?"


def test_missing_required_keys_are_all_reported():
    rule, problems = load("id: x\n")
    assert rule is None
    missing = sorted(p.message for p in problems if "missing required" in p.message)
    assert missing == [
        "missing required key `severity`",
        "missing required key `when`",
    ]
    assert all(p.suggestion and p.rule_id == "x" for p in problems)


@pytest.mark.parametrize(
    ("line", "replacement", "needle", "suggestion"),
    [
        ("severity: high", "severity: hgh", "`severity` must be one of", "did you mean `high`?"),
        ("severity: high", "severity: High", "`severity` must be one of", "did you mean `high`?"),
        ("severity: high", "severity: 3", "`severity` must be one of", "write one of"),
        ('title: "DDL by {dbUserName}"', "title: [a]", "`title` must be a string", "write"),
        ("id: ddl-by-non-admin", "id: DDL_By_NonAdmin", "not kebab-case", "`ddl-by-non-admin`"),
    ],
)
def test_wrong_type_or_enum(line, replacement, needle, suggestion):
    rule, problems = load(with_line(GOOD, line, replacement))
    assert rule is None
    p = only(problems, needle)
    assert p.suggestion is not None and suggestion in p.suggestion
    assert p.line == next(i for i, x in enumerate(GOOD.splitlines(), 1) if x == line)


def test_status_enum():
    _, problems = load(GOOD + "status: live\n")
    p = only(problems, "`status` must be one of stable, experimental, deprecated")
    assert p.line == 5


def test_jmespath_syntax_error_has_column_and_hint():
    rule, problems = load(with_line(GOOD, "&& !in_list", "and !in_list"))
    assert rule is None
    p = only(problems, "syntax error")
    assert "column 20" in p.message and p.line == 4 and p.rule_id == "ddl-by-non-admin"
    assert p.suggestion == "JMESPath writes `and` as `&&`"


@pytest.mark.parametrize(
    ("expr", "needle", "suggestion"),
    [
        ("dbUserName = 'x'", "syntax error at column 11", "`==`"),
        ("dbUserName == 'x", "Unclosed", "close the quote"),
        ("in_list(dbUserName, 'admins'", "ends too early", "missing"),
        ("in_list(dbUserName, 'admns')", "unknown list `admns`", "did you mean `admins`?"),
        ("in_list(dbUserName, admins)", "must be a literal list name", "quote it: 'admins'"),
        ("in_lst(dbUserName, 'admins')", "unknown function `in_lst()`", "`in_list`"),
        ("lower(dbUserName, 'x') == 'a'", "takes 1 argument", "lower(dbUserName)"),
        ("rowCount > param('large_read_row')", "unknown param", "`large_read_rows`"),
        ("matches(commandText, '(')", "bad regex", "fix the pattern"),
        ("imatches(commandText, '[')", "bad regex", "fix the pattern"),
        ("cidr_match(remoteHost, 'ofice_nets')", "neither a CIDR nor", "`office_nets`"),
        ("cidr_match(remoteHost, ['10.0.0.0/8', 'x'])", "'x' is not a CIDR", None),
        ("cidr_match(remoteHost, 'admins')", "not CIDRs", None),
    ],
)
def test_expression_problems_at_load_time(expr, needle, suggestion):
    rule, problems = load(
        with_line(GOOD, "das.action == 'DDL' && !in_list(dbUserName, 'admins')", f'"{expr}"')
    )
    assert rule is None
    p = only(problems, needle)
    assert p.line == 4 and p.rule_id == "ddl-by-non-admin"
    if suggestion:
        assert p.suggestion is not None and suggestion in p.suggestion


def test_when_that_is_not_a_string():
    _, problems = load(
        with_line(GOOD, "das.action == 'DDL' && !in_list(dbUserName, 'admins')", "true")
    )
    p = only(problems, "must be a JMESPath expression (a string), not a boolean")
    assert "`true`" in (p.suggestion or "")


def test_unknown_list_without_any_lists_file_says_where_to_define_it():
    _, problems, _ = load_rule_text(GOOD, "r.yaml", {}, {})
    p = only(problems, "unknown list `admins`")
    assert "lists.yaml" in (p.suggestion or "")


@pytest.mark.parametrize(
    ("snippet", "needle", "line", "suggestion"),
    [
        ("dedup: {key: dbUserName, window: 300}", "`dedup.window` must be a duration", 5, "`5m`"),
        ("dedup: {key: dbUserName, window: 1 hour}", "`dedup.window`", 5, "`1h`"),
        ("dedup: {key: dbUserName, window: 0s}", "between 1s and 31d", 5, None),
        ("dedup: {key: dbUserName}", "`dedup` needs a `window`", 5, "`window: 1h`"),
        ("dedup: 1h", "`dedup` must be a mapping", 5, "window: 1h"),
        ("threshold: {count: 5, window: 90x}", "`threshold.window`", 5, None),
        (
            "threshold: {count: five, window: 5m}",
            "`threshold.count` must be a whole number",
            5,
            None,
        ),
        ("threshold: {window: 5m}", "`threshold` needs a `count`", 5, "`count: 5`"),
        ("threshold: {count: 5, window: 5m, groupby: x}", "unknown key `groupby`", 5, "`group_by`"),
        ("outputs: slack", "`outputs` must be a list", 5, "[slack, securityhub]"),
        ("outputs: []", "send the alerts nowhere", 5, None),
        ("tags: [attack.T1110]", "not a MITRE ATT&CK tag", 5, "`attack.t1110`"),
        ("tags: [attack.credential-access]", "not a MITRE", 5, "`attack.credential_access`"),
        ("tags: [attack.credentail_access]", "not a MITRE", 5, "`attack.credential_access`"),
        ("tags: [pci]", "not a namespaced tag", 5, None),
        ("references: [wiki]", "not an http(s) URL", 5, "https://"),
        ("description: [a]", "`description` must be a string", 5, None),
    ],
)
def test_section_problems(snippet, needle, line, suggestion):
    rule, problems = load(GOOD + snippet + "\n")
    assert rule is None
    p = only(problems, needle)
    assert p.line == line and p.rule_id == "ddl-by-non-admin"
    if suggestion:
        assert p.suggestion is not None and suggestion in p.suggestion


def test_valid_tags_and_durations():
    rule, problems = load(
        GOOD
        + "tags: [attack.t1110, attack.t1110.001, attack.credential_access, attack.g0016,"
        + " cis.4-1]\n"
        + "dedup: {window: 1d}\nthreshold: {count: 3, window: 30s}\n"
    )
    assert problems == [] and rule is not None
    assert rule.dedup is not None and rule.dedup.window_s == 86400 and rule.dedup.key is None
    assert rule.threshold is not None and rule.threshold.window_s == 30


def test_unless_problems():
    rule, problems = load(
        GOOD
        + textwrap.dedent(
            """\
            unless:
              - when: dbUserName == 'x'
              - reason: no predicate
              - when: dbUserName == 'y'
                reason: bad date
                expires: 2027-02-30
              - when: dbUserName == 'z'
                reason: a string date
                expires: "next year"
              - just a string
            """
        )
    )
    assert rule is None
    assert only(problems, "needs `reason`").line == 6
    assert only(problems, "needs `when`").line == 7
    bad_dates = [p for p in problems if "must be a date YYYY-MM-DD" in p.message]
    assert [p.line for p in bad_dates] == [10, 13]
    assert only(problems, "`unless entry` must be a mapping").line == 14


def test_unless_quoted_date_is_accepted():
    rule, problems = load(
        GOOD + "unless:\n  - {when: \"dbUserName == 'x'\", reason: r, expires: '2027-01-31'}\n"
    )
    assert problems == [] and rule is not None
    assert rule.unless[0].expires == dt.date(2027, 1, 31)


def test_test_section_problems():
    rule, problems = load(
        GOOD
        + textwrap.dedent(
            """\
            tests:
              - name: both
                event: {a: 1}
                events: [{a: 1}]
                expect: {match: true}
              - name: neither
                expect: {match: false}
              - name: bad engine
                engine: postgresql
                event: {a: 1}
                expect: {matchh: true}
              - name: bad offsets
                events:
                  - {a: 1, at: soon}
                  - {a: 1, at: +5s, logTime: "2020-01-01 00:00:00+00"}
                expect: {alerts: many, count: -1}
              - event: {a: 1}
                expect: {match: true}
              - name: neither
                event: {a: 1}
              - name: empty expect
                event: {a: 1}
                expect: {}
              - name: scalar event
                event: 5
                expect: {match: 1, severity: hi}
            """
        )
    )
    assert rule is None
    lines = {p.message.split(" (")[0]: p.line for p in problems}
    assert lines["a test has `event` or `events`, not both"] == 8
    assert only(problems, "a test needs `event` (one partial event)").line == 10
    assert only(problems, "`tests.engine` must be one of").suggestion == "did you mean `postgres`?"
    assert only(problems, "unknown key `matchh` in expect").suggestion == "did you mean `match`?"
    assert only(problems, "`at` must be an offset").line == 18
    assert only(problems, "`at` or `logTime`, not both").line == 19
    assert only(problems, "`expect.alerts`").line == 20
    assert only(problems, "`expect.count`").line == 20
    assert only(problems, "a test needs a `name`").line == 21
    assert only(problems, "duplicate test name `neither`").line == 23
    assert only(problems, "a test needs `expect`").line == 23
    assert only(problems, "`expect` is empty").line == 27
    assert only(problems, "`a test event` must be a mapping").line == 29
    assert only(problems, "`expect.match` must be true or false").line == 30
    assert only(problems, "`expect.severity` must be one of").suggestion == "did you mean `high`?"


def test_expect_accepts_alert_fields_and_dotted_keys():
    rule, problems = load(
        GOOD
        + "tests:\n  - name: t\n    event: {dbUserName: app}\n"
        + "    expect: {match: true, alerts: 1, count: 1, dedup_key: k, rule_id: r,\n"
        + "             event.commandText: 'x', event: {commandText: y}, title: t}\n"
    )
    assert problems == [] and rule is not None
    assert rule.tests[0].expect["event.commandText"] == "x"


def test_all_problems_at_once_in_one_file():
    result = load_rules(
        FIX / "bad" / "everything-wrong.yaml", lists_path=FIX / "good" / "lists.yaml"
    )
    assert result.rules == []
    msgs = [p.message for p in result.problems]
    assert len(msgs) >= 25
    for needle in (
        "not kebab-case",
        "unknown key `titel`",
        "`severity` must be",
        "`status` must be",
        "unknown function `foo()`",
        "unknown list `admns`",
        "bad regex",
        "needs `reason`",
        "must be a date",
        "syntax error",
        "`dedup.window`",
        "`threshold.count`",
        "unknown key `groupby`",
        "`tests.engine`",
        "unknown key `matchh`",
        "duplicate test name",
    ):
        assert any(needle in m for m in msgs), needle
    assert {p.rule_id for p in result.problems} == {"Everything_Wrong"}
    assert all(p.line for p in result.problems)


def test_bad_files_do_not_stop_good_ones(tmp_path):
    (tmp_path / "lists.yaml").write_text((FIX / "good" / "lists.yaml").read_text())
    (tmp_path / "good.yaml").write_text(GOOD)
    for f in (FIX / "bad").iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    result = load_rules(tmp_path)
    assert [r.id for r in result.rules] == ["ddl-by-non-admin"]
    files_with_problems = {Path(p.file).name for p in result.problems}
    assert files_with_problems == {f.name for f in (FIX / "bad").iterdir()}


# -- YAML-level problems ----------------------------------------------------------------------


def test_yaml_syntax_error_is_a_problem_with_a_line():
    result = load_rules(FIX / "bad" / "yaml-syntax.yaml")
    (p,) = result.problems
    assert p.line == 8 and "YAML syntax error" in p.message and "line 7" in p.message


def test_backtick_at_the_start_of_a_value_explains_quoting():
    (p,) = load_rules(FIX / "bad" / "backtick-start.yaml").problems
    assert p.line == 4 and p.suggestion is not None and "quote it" in p.suggestion


def test_duplicate_yaml_key():
    rule, problems = load(GOOD + "severity: low\n")
    assert rule is None
    p = only(problems, "duplicate key `severity`")
    assert p.line == 5 and "line 3" in p.message and p.rule_id == "ddl-by-non-admin"


def test_not_a_mapping_empty_and_two_documents():
    assert "not a list" in load("- a\n- b\n")[1][0].message
    assert load("")[1][0].message == "the file is empty"
    _, problems = load(GOOD + "---\n" + GOOD)
    assert only(problems, "more than one YAML document").line == 6


def test_alias_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for i in range(8):
        name = chr(98 + i)
        bomb += f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
        prev = name
    rule, problems = load(bomb)
    assert rule is None
    assert "too large" in problems[0].message


def test_unknown_yaml_tag():
    _, problems = load(GOOD + "description: !secret x\n")
    assert any("cannot read" in p.message for p in problems)


# -- across files -----------------------------------------------------------------------------


def test_duplicate_id_across_files(tmp_path):
    (tmp_path / "lists.yaml").write_text("lists: {admins: [x]}\n")
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("# a comment\n" + GOOD)
    result = load_rules(tmp_path)
    assert len(result.rules) == 1
    (p,) = result.problems
    assert p.file.endswith("b.yaml") and p.line == 2 and p.rule_id == "ddl-by-non-admin"
    assert "duplicate rule id" in p.message and "a.yaml:1" in p.message


def test_missing_path_and_unreadable_file(tmp_path):
    result = load_rules([tmp_path / "nope"])
    assert result.problems[0].message == "no such file or directory"
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"id: \xe9\n")
    assert load_rules(bad).problems[0].message == "not UTF-8 text"


def test_lists_file_problems():
    lists, params, problems = load_lists_text(
        textwrap.dedent(
            """\
            lists:
              admins: [a, b, {x: 1}]
              bad name: [x]
              scalar: x
            params:
              large_read_rows: 100000
            list: {}
            """
        ),
        "lists.yaml",
    )
    assert lists == {"admins": ["a", "b"]}
    assert params == {"large_read_rows": 100000}
    assert only(problems, "may hold strings and numbers").line == 2
    assert only(problems, "not a plain name").line == 3
    assert only(problems, "`lists.scalar` must be a list").line == 4
    assert only(problems, "unknown key `list`").suggestion == "did you mean `lists`?"


def test_same_list_in_two_lists_files_of_one_folder(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "lists.yaml").write_text("lists: {admins: [x]}\n")
    result = load_rules([tmp_path])
    assert any("also defined in" in p.message for p in result.problems)


def test_a_later_folder_extends_lists_and_overrides_params(tmp_path):
    for d, text in (
        ("a", "lists: {admins: [x, y]}\nparams: {n: 1}\n"),
        ("b", "lists: {admins: [y, z]}\nparams: {n: 2}\n"),
    ):
        (tmp_path / d).mkdir()
        (tmp_path / d / "lists.yaml").write_text(text)
    result = load_rules([tmp_path / "a", tmp_path / "b"])
    assert result.problems == []
    assert result.lists == {"admins": ["x", "y", "z"]} and result.params == {"n": 2}


def test_deprecated_backtick_string_is_a_warning_not_an_error():
    rule, problems = load(with_line(GOOD, "when: das.action == 'DDL'", "when: das.action == `DDL`"))
    assert rule is not None  # it still works: jmespath reads it as the string "DDL"
    (p,) = problems
    assert p.level == "warning" and p.line == 4 and "single quotes ('DDL')" in p.message


def test_expect_alerts_list_is_checked_field_by_field():
    text = GOOD + (
        "tests:\n  - name: t\n    events: [{a: 1}, {a: 2}]\n"
        "    expect:\n      alerts:\n        - {dedup_key: a, count: 1}\n"
        "        - {severty: high}\n        - 5\n"
    )
    rule, problems = load(text)
    assert rule is None
    assert only(problems, "unknown alert field `severty`").suggestion == "did you mean `severity`?"
    assert only(problems, "unknown alert field").line == 11
    assert only(problems, "`expect.alerts entry` must be a mapping").line == 12
    ok, problems = load(text.replace("        - {severty: high}\n        - 5\n", ""))
    assert problems == [] and ok is not None


def test_colon_space_in_a_plain_value_explains_quoting():
    rule, problems = load(GOOD.replace('title: "DDL by {dbUserName}"', "title: DDL: by someone"))
    (p,) = problems
    assert rule is None and p.line == 2
    assert "mapping values are not allowed" in p.message
    assert p.suggestion is not None and "must be quoted" in p.suggestion


def test_a_rule_without_title_is_titled_by_its_id():
    """The rule-type docs' short forms (no title) load as written; alerts carry the id."""
    rule, problems = load(
        "id: login-success-after-failures\nseverity: critical\n"
        "sequence:\n  by: \"[das.clusterId || das.instanceId, remoteHost]\"\n  within: 10m\n"
        "  steps:\n    - when: \"das.action == 'LOGIN_FAILED'\"\n      min: 5\n"
        "    - when: \"das.action == 'CONNECT'\"\n"
    )
    assert [p for p in problems if p.level == "error"] == []
    assert rule is not None and rule.title == "login-success-after-failures"
    rule, problems = load("id: r\nseverity: low\nwhen: \"das.action == 'DDL'\"\ntitle: ''\n")
    assert rule is None and any("`title` is empty" in p.message for p in problems)
