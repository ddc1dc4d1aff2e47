"""Lint that never misleads: the fixes it suggests are right, and it says what it did not check."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from engine.cli import main
from engine.rules.lang.loader import LoadResult, load_rule_text, load_rules
from engine.rules.lint import all_checks
from engine.rules.lint.run import lint, lint_result
from engine.rules.model import Problem

TODAY = dt.date(2026, 11, 27)
LISTS = {"admins": ["rdsadmin", "dba_alice"]}


def problems_for(text: str) -> list[Problem]:
    rule, problems, lines = load_rule_text(textwrap.dedent(text), "r.yaml", LISTS, {})
    assert rule is not None, problems
    result = LoadResult([rule], LISTS, {}, problems, ["r.yaml"], {rule.id: lines})
    return lint_result(result, today=TODAY, outputs=["console"]).problems


RULE = """\
id: r
title: "t {{dbUserName}}"
severity: low
when: {when}
{extra}
tests:
  - {{name: hit, event: {{dbUserName: a}}, expect: {{match: true}}}}
  - {{name: miss, event: {{dbUserName: b}}, expect: {{match: false}}}}
"""


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ("threshold: {count: 2, window: 5m, group_by: remote_host}", "threshold.group_by"),
        ('dedup: {key: "[das.clusterId, dbUsername]", window: 1h}', "dedup.key"),
    ],
)
def test_unknown_field_in_a_grouping_key_is_an_error(extra: str, what: str) -> None:
    found = problems_for(RULE.format(when="das.action == 'READ'", extra=extra))
    [p] = [p for p in found if p.message.startswith(what)]
    assert p.level == "error" and "one null group" in p.message
    assert "did you mean" in (p.suggestion or "")


def test_unknown_field_in_when_stays_a_warning() -> None:
    found = problems_for(RULE.format(when="dbUsername == 'x'", extra=""))
    [p] = [p for p in found if "dbUsername" in p.message]
    assert p.level == "warning"


@pytest.mark.parametrize(
    ("when", "hint"),
    [
        ("ends_with_any(objectName, '_bak')", "['_bak']"),
        ("das.action == 'READ' && !contains_any(das.sql, 'x')", "['x']"),
    ],
)
def test_text_where_a_list_belongs_is_an_error(when: str, hint: str) -> None:
    found = problems_for(RULE.format(when=f'"{when}"', extra=""))
    [p] = [p for p in found if "takes a list" in p.message]
    assert p.level == "error" and hint in (p.suggestion or "")


def test_a_literal_list_or_a_field_as_the_list_is_fine() -> None:
    for when in (
        "starts_with_any(dbUserName, ['a', 'b'])",
        "contains_any(das.sql, dbUserName)",
        "starts_with_any(dbUserName, 'admins')",  # a named list of lists.yaml is that list
    ):
        found = problems_for(RULE.format(when=f'"{when}"', extra=""))
        assert not [p for p in found if "takes a list" in p.message]


def test_a_window_too_long_is_not_answered_with_itself(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        RULE.format(when="das.action == 'READ'", extra="dedup: {window: 90d}")
    )
    [p] = [p for p in load_rules(tmp_path).problems if "dedup.window" in p.message]
    assert "`90d`" in p.message
    assert "90d" not in (p.suggestion or "") and "31d" in (p.suggestion or "")


def test_an_error_in_when_leaves_the_file_unchecked_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(RULE.format(when="das.action == 'READ'", extra=""))
    (tmp_path / "bad.yaml").write_text(
        RULE.format(when="das.action = 'DDL'", extra="").replace("id: r", "id: b")
    )
    report = lint(tmp_path, today=TODAY)
    assert report.unchecked == [str(tmp_path / "bad.yaml")]
    assert (
        report.summary()
        .splitlines()[1]
        .startswith(f"{len(all_checks())} warning checks skipped on 1 file with errors")
    )


def test_warnings_are_computed_with_the_broken_optional_keys_set_aside(tmp_path: Path) -> None:
    """The review's case: a typo'd key and a typo in a test used to hide every warning until
    a second run."""
    text = (
        RULE.format(
            when='"das.action == \\"DDL\\" || das.action == \'LOGIN_FAIL\'"',
            extra="severty: high\nunless:\n  - {when: \"dbUserName == 'x'\", reason: old, "
            "expires: 2020-01-01}",
        )
        .replace("{{match: true}}", "{{macth: true}}")
        .replace("{match: true}", "{macth: true}")
    )
    (tmp_path / "bad.yaml").write_text(text)
    report = lint(tmp_path, today=TODAY)
    assert report.unchecked == [] and len(report.summary().splitlines()) == 1
    errors = [p.message for p in report.errors]
    assert any("severty" in m for m in errors) and any("macth" in m for m in errors)
    warned = {p.message.split(" (checked with")[0]: p for p in report.warnings}
    assert any("LOGIN_FAIL" in m for m in warned)
    assert any("`DDL` is not a DAS event field" in m for m in warned)
    assert any("expired on 2020-01-01" in m for m in warned)
    assert all("(checked with `severty`, `tests` set aside)" in p.message for p in warned.values())
    # the checks that read a set-aside key stay quiet: no "no negative test" from broken tests
    assert not any("negative" in m or "positive" in m for m in warned)
    lines = text.splitlines()
    for p in report.warnings:  # line numbers point into the real file
        assert p.line is not None and lines[p.line - 1].strip()


BANG = """\
id: bang-rule
title: t
severity: low
when: !in_list(dbUserName, 'admins')
"""


def test_when_starting_with_bang_gets_the_quoted_line_and_a_caret(tmp_path: Path) -> None:
    (tmp_path / "bang.yaml").write_text(BANG)
    [p] = load_rules(tmp_path).problems
    assert p.rule_id == "bang-rule" and p.line == 4
    assert "starts with ! as a tag" in p.message
    suggestion = p.suggestion or ""
    assert suggestion.startswith("""quote it: when: "!in_list(dbUserName, 'admins')\"""")
    src, caret = suggestion.splitlines()[1:3]
    assert src == "    | when: !in_list(dbUserName, 'admins')"
    assert caret.index("^") == src.index("!")


def test_bare_bang_field_is_kept_and_gets_the_quote_fix(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("id: b\ntitle: t\nseverity: low\nwhen: !das.failed\n")
    problems = load_rules(tmp_path).problems
    assert not [p for p in problems if "empty" in p.message]
    [p] = problems
    assert p.suggestion == 'quote it: when: "!das.failed"'


def test_indentation_error_names_the_rule_and_shows_the_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.yaml").write_text(
        "id: dent\ntitle: t\nseverity: low\nwhen: das.failed\ntests:\n"
        "  - name: x\n    event: {}\n   expect: {match: true}\n"
    )
    assert main(["lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{tmp_path / 'd.yaml'}:8: [dent] error: YAML syntax error")
    assert out[1] == "    |    expect: {match: true}"
    assert out[2] == "    |    ^"
