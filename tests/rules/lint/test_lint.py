"""Lint: the checks, the report and `dasalert lint` end to end."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.cli import main
from engine.rules.lang.loader import LoadResult, load_rule_text, load_rules
from engine.rules.lint import all_checks
from engine.rules.lint.run import known_outputs, lint, lint_result
from engine.rules.model import Problem

FIX = Path(__file__).resolve().parents[1] / "fixtures_lang"
TODAY = dt.date(2026, 11, 27)
LISTS = {"admins": ["rdsadmin"]}
PARAMS = {"large_read_rows": 100000}

BASE = """\
id: r
title: "Read by {{dbUserName}} on {{das.engine}}"
severity: low
when: {when}
tests:
  - {{name: hit, event: {{dbUserName: a}}, expect: {{match: true}}}}
  - {{name: miss, event: {{dbUserName: b}}, expect: {{match: false}}}}
"""


def warnings_for(text: str, params: dict | None = None, **kw) -> list[Problem]:
    params = params or PARAMS
    rule, problems, lines = load_rule_text(textwrap.dedent(text), "r.yaml", LISTS, params)
    assert rule is not None, problems
    result = LoadResult([rule], LISTS, params, problems, ["r.yaml"], {rule.id: lines})
    kw.setdefault("outputs", ["console", "slack", "sns", "securityhub"])
    return lint_result(result, today=TODAY, **kw).problems


def test_checks_are_discovered_one_per_file():
    names = set(all_checks())
    assert {
        "expired-unless",
        "test-coverage",
        "mixed-type-comparison",
        "unknown-output",
        "runbook",
        "title-fields",
        "unknown-field",
    } <= names


def test_clean_rule_has_no_problems():
    assert warnings_for(BASE.format(when="das.action == 'READ'")) == []


@pytest.mark.parametrize(
    ("when", "needle", "suggestion"),
    [
        ("exitCode == `0`", "on mysql, postgres: it never matches", "das.failed"),
        ("exitCode != `0`", "it is always true there", "write `das.failed`"),
        ("exitCode == '1045'", "on oracle, sqlserver", "das.errorCode == '1045'"),
        ("rowCount == '5'", "on any engine", "`` rowCount == `5` ``"),
        ("pid == '5'", "on any engine", None),
        ("remotePort > `1024`", "on any engine", "`` to_number(remotePort) > `1024` ``"),
        ("rowCount > '10'", "compares a string", "`` rowCount > `10` ``"),
        ("das.rows > '100'", "compares a string", "`` das.rows > `100` ``"),
        ("sessionId == `5`", "on mysql, postgres", None),
        ("das.failed == 'true'", "boolean", "`das.failed`"),
        ("rowCount > param('name_param')", "compares a string", None),
    ],
)
def test_mixed_type_comparison_warns(when, needle, suggestion):
    params = {**PARAMS, "name_param": "x"}
    problems = warnings_for(BASE.format(when=f'"{when}"'), params)
    hits = [p for p in problems if needle in p.message]
    assert len(hits) == 1, [str(p) for p in problems]
    p = hits[0]
    assert p.level == "warning" and p.line == 4 and p.rule_id == "r"
    if suggestion:
        assert suggestion in (p.suggestion or "")
    # never the advice to order numbers as text ('9' > '100')
    if any(op in when for op in ("<", ">")):
        assert "to_string(" not in (p.suggestion or "")


@pytest.mark.parametrize(
    "when",
    [
        "to_string(exitCode) == '0'",
        "das.failed",
        "rowCount > param('large_read_rows')",
        "rowCount > `100`",
        "exitCode == `null`",
        "dbUserName == 'x'",
    ],
)
def test_well_typed_comparisons_are_quiet(when):
    assert warnings_for(BASE.format(when=f'"{when}"')) == []


def test_unknown_fields_and_the_double_quote_trap():
    problems = warnings_for(BASE.format(when='"das.action == \\"DDL\\" && dbUsername == \'x\'"'))
    msgs = {p.message: p.suggestion for p in problems}
    assert msgs["when: `DDL` is not a DAS event field (it is always null)"].startswith(
        '"DDL" in double quotes is a field name'
    )
    assert msgs["when: `dbUsername` is not a DAS event field (it is always null)"] == (
        "did you mean `dbUserName`?"
    )


def test_bare_null_is_a_field_name():
    (p,) = warnings_for(BASE.format(when="exitCode == null"))
    assert p.message == "when: `null` without backticks is a field name, not the JSON value"
    assert p.suggestion == "write the JSON value in backticks: `null`"


def test_unknown_derived_field():
    (p,) = warnings_for(BASE.format(when="das.actoin == 'DDL'"))
    assert "`das.actoin` is not a derived field" in p.message
    assert p.suggestion == "did you mean `action`?"


def test_fields_inside_projections_are_not_event_fields():
    when = "\"length(paramList[?contains(@, 'x')]) > `0` && engineNativeAuditFields.any\""
    assert warnings_for(BASE.format(when=when)) == []


def test_title_placeholders():
    text = BASE.format(when="das.action == 'READ'").replace(
        "Read by {dbUserName} on {das.engine}", "Read by {dbUsername} on {das.engin} {1x} {"
    )
    problems = warnings_for(text)
    msgs = [p.message for p in problems]
    assert any("{dbUsername}" in m for m in msgs)
    assert any("`das.engin` is not a derived field" in m for m in msgs)
    assert any("`{1x}` is not a field name" in m for m in msgs)
    assert any("unbalanced" in m for m in msgs)
    assert all(p.line == 2 and p.level == "warning" for p in problems)


def test_expired_unless_and_active_one():
    text = BASE.format(when="das.action == 'READ'") + textwrap.dedent(
        """\
        unless:
          - {when: "dbUserName == 'etl'", reason: nightly ETL, expires: 2026-11-26}
          - {when: "dbUserName == 'bi'", reason: BI tool, expires: 2026-11-27}
          - {when: "dbUserName == 'x'", reason: forever}
        """
    )
    (p,) = warnings_for(text)
    assert p.line == 9 and p.level == "warning"
    assert "“nightly ETL” expired on 2026-11-26" in p.message
    assert "events from 2026-11-27 on alert again" in p.message  # expires is the last day


def test_test_coverage():
    text = BASE.format(when="das.action == 'READ'")
    no_neg = text.replace("expect: {match: false}", "expect: {match: true}")
    (p,) = warnings_for(no_neg)
    assert p.message == "no negative test" and p.line == 5
    assert p.suggestion == "add a test with expect: {match: false}"
    no_tests = text.split("tests:")[0]
    (p,) = warnings_for(no_tests)
    assert p.message == "no positive and no negative test"
    by_alerts = text.replace("expect: {match: true}", "expect: {alerts: 2}").replace(
        "expect: {match: false}", "expect: {alerts: 0}"
    )
    assert warnings_for(by_alerts) == []


def test_runbook_for_high_and_critical():
    text = BASE.format(when="das.action == 'READ'").replace("severity: low", "severity: critical")
    (p,) = warnings_for(text)
    assert p.message == "a critical rule has no runbook" and p.line == 3
    assert warnings_for(text + "runbook: https://wiki.example.com/r\n") == []


def test_unknown_output_is_an_error_with_suggestion():
    text = BASE.format(when="das.action == 'READ'") + "outputs: [slak, sns]\n"
    (p,) = warnings_for(text)
    assert (p.level, p.message, p.suggestion, p.line) == (
        "error",
        "unknown output `slak`",
        "did you mean `slack`?",
        8,
    )


def test_known_outputs_come_from_the_registry_or_the_documented_four():
    names = known_outputs()
    assert {"console", "slack", "sns", "securityhub"} <= names


def test_lint_report_on_fixture_directories():
    report = lint([FIX / "lint"], today=TODAY, outputs=["console", "slack"])
    assert len(report.result.rules) == 1
    assert [p.level for p in report.errors] == ["error"]  # the unknown output
    assert len(report.warnings) >= 6
    assert (
        report.summary() == "1 file, 1 rule loaded: 1 error, " + f"{len(report.warnings)} warnings"
    )
    lines = [p.line for p in report.problems]
    assert lines == sorted(lines)


# -- the command ------------------------------------------------------------------------------


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(["lint", *argv])
    return code, capsys.readouterr().out.splitlines()


def test_cli_good_rules_exit_0(capsys):
    code, out = run_cli(capsys, str(FIX / "good"), "--today", "2026-11-27")
    assert code == 0
    assert out == ["2 files, 2 rules loaded: 0 errors, 0 warnings"]


def test_cli_errors_exit_1_with_file_line_rule_level_message_suggestion(capsys):
    code, out = run_cli(capsys, str(FIX / "bad" / "everything-wrong.yaml"))
    assert code == 1
    first = out[0]
    assert first.startswith(
        str(FIX / "bad" / "everything-wrong.yaml") + ":1: [Everything_Wrong] error: "
    )
    assert " — " in first
    # its bad runbook is the loader's one warning (a runbook alone never stops a rule loading)
    assert out[-2].endswith("errors, 1 warning") and "0 rules loaded" in out[-2]
    assert out[-1].startswith(f"{len(all_checks())} warning checks skipped on 1 file with errors")


def test_cli_warnings_exit_0_unless_strict(tmp_path, capsys):
    rule = tmp_path / "r.yaml"
    rule.write_text(BASE.format(when="exitCode == `0`"))
    code, out = run_cli(capsys, str(tmp_path))
    assert code == 0
    assert any("warning: exitCode == `0` compares a number" in line for line in out)
    code, _ = run_cli(capsys, str(tmp_path), "--strict")
    assert code == 1
    code, out = run_cli(capsys, str(tmp_path), "--quiet")
    assert out == ["1 file, 1 rule loaded: 0 errors, 1 warning"]


def test_cli_today_controls_expiry(tmp_path, capsys):
    (tmp_path / "r.yaml").write_text(
        BASE.format(when="das.action == 'READ'")
        + "unless:\n  - {when: \"dbUserName == 'x'\", reason: r, expires: 2030-01-01}\n"
    )
    assert run_cli(capsys, str(tmp_path), "--today", "2029-12-31", "--strict")[0] == 0
    code, out = run_cli(capsys, str(tmp_path), "--today", "2030-01-02", "--strict")
    assert code == 1 and "expired on 2030-01-01" in out[0]


def test_cli_default_path_is_rules(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(capsys)
    assert code == 1 and out[0] == "rules: error: no such file or directory"


def test_cli_as_a_process():
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "lint", str(FIX / "bad" / "dup-key.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert (
        "dup-key.yaml:4: [dup-key] error: duplicate key `severity` (first at line 3)" in proc.stdout
    )
    assert proc.stderr == ""


def test_loader_problems_and_check_problems_share_one_list():
    result = load_rules([FIX / "lint", FIX / "bad" / "dup-key.yaml"])
    report = lint_result(result, today=TODAY, outputs=["slack"])
    files = {Path(p.file).name for p in report.problems}
    assert files == {"warnings.yaml", "dup-key.yaml"}


def test_unknown_action_value():
    when = "\"das.action == 'LOGIN_FAIL' || contains(['DDL', 'Read'], das.action)\""
    problems = warnings_for(BASE.format(when=when))
    assert [(p.message, p.suggestion) for p in problems] == [
        ("das.action is never 'LOGIN_FAIL'", "did you mean `LOGIN_FAILED`?"),
        ("das.action is never 'Read'", "did you mean `READ`?"),
    ]


def test_misspelt_field_in_a_test_event():
    text = BASE.format(when="das.action == 'READ'").replace(
        "{name: miss, event: {dbUserName: b}",
        "{name: miss, event: {dbUsername: app, at: 5, das: {}}",
    )
    problems = warnings_for(text)
    msgs = [(p.message, p.suggestion, p.line) for p in problems]
    assert (
        "test “miss”: `dbUsername` is not a DAS event field",
        "did you mean `dbUserName`?",
        7,
    ) in msgs
    assert not any("`at`" in m or "`das`" in m for m, _, _ in msgs)


@pytest.mark.parametrize("when", ["\"'das.action == DDL'\"", '"`true`"', "\"length('abc') > `1`\""])
def test_constant_when(when):
    problems = warnings_for(BASE.format(when=when))
    assert [p.message for p in problems if "does not read" in p.message] == [
        "`when` does not read any event field: it matches every event or none"
    ]


def test_when_reading_the_event_is_not_constant():
    assert warnings_for(BASE.format(when='"length(@) > `0`"')) == []


def test_not_before_a_path_is_the_precedence_trap():
    when = "\"das.action == 'READ' && !das.aux\""
    problems = warnings_for(BASE.format(when=when))
    assert [(p.message, p.suggestion, p.line) for p in problems] == [
        (
            "`!das.aux` is read as `(!das).aux`, which is always null: `!` binds tighter than `.`",
            "write `!(das.aux)`, or das.aux == `false` for a boolean field",
            4,
        )
    ]
    (failed,) = warnings_for(BASE.format(when="\"!das.failed && dbUserName == 'a'\""))
    assert failed.message.startswith("`!das.failed` is read as `(!das).failed`")
    (other,) = warnings_for(BASE.format(when="\"!@.dbUserName || dbUserName == 'a'\""))
    assert "always null" in other.message and other.suggestion == (
        "put what you negate in parentheses: `!(a.b)`"
    )


@pytest.mark.parametrize(
    "when",
    [
        "\"das.action == 'READ' && !(das.aux)\"",
        "\"das.action == 'READ' && das.aux == `false`\"",
        "\"!(das.failed) && dbUserName == 'a'\"",
        "\"!contains(['a'], dbUserName)\"",
    ],
)
def test_a_negation_in_parentheses_or_of_a_whole_field_is_quiet(when):
    assert not [p for p in warnings_for(BASE.format(when=when)) if "binds tighter" in p.message]
