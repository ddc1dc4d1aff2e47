"""The rule-test runner and ``dasalert test``: report, diffs, exit codes, --min-tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.cli import main
from engine.rules.lang.loader import load_rules
from engine.rules.model import RuleTest
from engine.rules.testing.runner import (
    _shift_log_time,
    build_events,
    check,
    coverage_problem,
    deep_merge,
    run_test,
    run_tests,
)

LISTS = "lists: {admins: [rdsadmin]}\nparams: {big: 100}\n"

GOOD = """
id: ddl-test
title: "DDL by {dbUserName} on {databaseName}"
severity: high
when: das.action == 'DDL' && !in_list(dbUserName, 'admins')
dedup: {key: dbUserName, window: 1h}
tests:
  - name: app creates a table
    event: {class: DDL, command: CREATE TABLE, commandText: "CREATE TABLE t (x int)"}
    expect: {match: true, title: "DDL by app on postgres", severity: high, dedup_key: '"app"'}
  - name: admin is allowed
    event: {class: DDL, command: CREATE TABLE, dbUserName: rdsadmin}
    expect: {match: false}
"""

WRONG_TITLE = """
id: wrong-title
title: "DDL by {dbUserName}"
severity: high
when: das.action == 'DDL'
tests:
  - name: title is wrong on purpose
    event: {class: DDL, command: DROP TABLE, commandText: "DROP TABLE t"}
    expect: {match: true, title: "DDL by somebody else"}
  - name: a read does not match
    event: {}
    expect: {match: false}
"""

ONLY_POSITIVE = """
id: only-positive
title: "x"
severity: low
when: das.action == 'READ'
tests:
  - name: a read matches
    event: {}
    expect: {match: true}
"""


def pack(tmp_path: Path, **files: str) -> Path:
    (tmp_path / "lists.yaml").write_text(LISTS)
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text))
    return tmp_path


def test_passing_pack_exits_0_with_a_pytest_like_report(tmp_path, capsys) -> None:
    rc = main(["test", str(pack(tmp_path, good=GOOD))])
    out = capsys.readouterr().out
    assert rc == 0
    assert "ddl-test :: app creates a table PASS" in out
    assert "ddl-test :: admin is allowed PASS" in out
    assert out.strip().splitlines()[-1].startswith("====") and " 2 passed in " in out


def test_a_failure_prints_a_diff_and_exits_1(tmp_path, capsys) -> None:
    rc = main(["test", str(pack(tmp_path, good=GOOD, wrong=WRONG_TITLE))])
    out = capsys.readouterr().out
    assert rc == 1
    assert "wrong-title :: title is wrong on purpose FAIL" in out
    assert "- expected 'DDL by somebody else'" in out
    assert "+ actual   'DDL by app'" in out
    assert "wrong.yaml:" in out  # where the failing test is
    assert "3 passed, 1 failed" in out


def test_quiet_lists_failures_only(tmp_path, capsys) -> None:
    main(["test", "-q", str(pack(tmp_path, good=GOOD, wrong=WRONG_TITLE))])
    out = capsys.readouterr().out
    assert "PASS" not in out and "FAIL" in out


def test_min_tests_fails_a_rule_without_a_negative_test(tmp_path, capsys) -> None:
    path = pack(tmp_path, good=GOOD, only=ONLY_POSITIVE)
    assert main(["test", str(path)]) == 0
    capsys.readouterr()
    assert main(["test", "--min-tests", str(path)]) == 1
    out = capsys.readouterr().out
    assert "[only-positive] no negative test" in out and "expect: {match: false}" in out
    assert "1 rules under-tested" in out
    assert "ddl-test" not in out.split("MIN TESTS")[1]


def test_a_load_error_is_printed_as_a_problem_and_exits_1(tmp_path, capsys) -> None:
    broken = GOOD.replace("severity: high\n", "severty: high\n", 1).replace("ddl-test", "broken")
    rc = main(["test", str(pack(tmp_path, good=GOOD, broken=broken))])
    out = capsys.readouterr().out
    assert rc == 1
    assert "broken.yaml:" in out and "severity" in out and "error" in out
    assert "2 passed, 2 load errors" in out  # the unknown key and the missing severity


def test_no_rules_is_an_error(tmp_path, capsys) -> None:
    (tmp_path / "lists.yaml").write_text(LISTS)
    assert main(["test", str(tmp_path)]) == 1
    assert "no rules found" in capsys.readouterr().err


def test_a_rule_error_fails_the_test() -> None:
    from tests.rules.runtime.test_engine import BOOM, rule

    r = rule("boom", "boom(dbUserName)")
    outcome = run_test(r, RuleTest("t", ({},), {"match": False}), options=BOOM)
    assert not outcome.passed
    assert outcome.failures == ["  rule error: boom: RuntimeError: boom on 'app'"]


def test_timed_events_for_thresholds(tmp_path) -> None:
    burst = """
    id: burst
    title: "burst from {remoteHost}"
    severity: high
    when: das.action == 'LOGIN_FAILED'
    threshold: {count: 3, window: 1m, group_by: remoteHost}
    tests:
      - name: three within a minute
        events:
          - {command: AUTH FAILURE, class: MISC, exitCode: "28P01", at: 0}
          - {command: AUTH FAILURE, class: MISC, exitCode: "28P01", at: 20s}
          - {command: AUTH FAILURE, class: MISC, exitCode: "28P01", at: 40s}
        expect: {alerts: 1, count: 3, first_seen: "2019-05-24T00:39:49.940668Z"}
      - name: three over two minutes
        events:
          - {command: AUTH FAILURE, class: MISC, exitCode: "28P01", at: 0}
          - {command: AUTH FAILURE, class: MISC, exitCode: "28P01", at: 70s}
          - {command: AUTH FAILURE, class: MISC, exitCode: "28P01", at: 140s}
        expect: {match: false}
    """
    loaded = load_rules([pack(tmp_path, burst=burst)])
    assert not loaded.errors, loaded.problems
    report = run_tests(loaded.rules, loaded.lists, loaded.params)
    assert report.ok, report.render()


# -- pieces -----------------------------------------------------------------------------------


def test_deep_merge_keeps_the_base_and_replaces_leaves() -> None:
    base = {"a": 1, "n": {"x": 1, "y": 2}, "l": [1, 2]}
    merged = deep_merge(base, {"n": {"y": 3}, "l": [9], "z": None})
    assert merged == {"a": 1, "n": {"x": 1, "y": 3}, "l": [9], "z": None}
    assert base["n"]["y"] == 2  # untouched


@pytest.mark.parametrize(
    ("text", "shift", "want"),
    [
        ("2019-05-24 00:39:49.940668+00", 30, "2019-05-24 00:40:19.940668+00"),
        ("2021-01-15 00:15:36.233787", 1, "2021-01-15 00:15:37.233787"),
        ("2022-10-06 21:44:38.4120677+00", 60, "2022-10-06 21:45:38.412067+00"),
        ("garbage", 5, "garbage"),
    ],
)
def test_shift_log_time_keeps_each_engines_form(text: str, shift: int, want: str) -> None:
    assert _shift_log_time(text, shift) == want


def test_events_without_time_are_spread_one_second_apart() -> None:
    test = RuleTest("t", ({"command": "X"}, {"command": "X"}, {"at": 10}), {"match": True})
    times = [e["das"]["epoch"] for e in build_events(test)]
    assert times[1] - times[0] == pytest.approx(1) and times[2] - times[0] == pytest.approx(10)


def test_check_alert_lists_and_dotted_fields() -> None:
    alerts = [
        {"kind": "rule", "title": "a", "event": {"commandText": "x"}},
        {"kind": "rule", "title": "b", "event": {}},
    ]
    assert check({"alerts": [{"title": "a"}, {"title": "b"}]}, alerts) == []
    assert check({"event.commandText": "x", "match": True}, alerts) == []
    lines = check({"alerts": [{"title": "a"}, {"title": "c"}]}, alerts)
    assert "  alerts[1].title:" in lines
    assert check({"event.missing": 1}, alerts)[-1] == "  + actual   <missing>"
    assert check({"match": False}, [{"kind": "rule_error"}]) == []


def test_coverage_problem_names_what_is_missing() -> None:
    from engine.rules.lang.expr import compile_expr
    from engine.rules.model import Rule

    r = Rule("r", "t", "low", compile_expr("`true`"), file="r.yaml", line=2)
    assert "no positive and no negative test" in (coverage_problem(r) or "")
