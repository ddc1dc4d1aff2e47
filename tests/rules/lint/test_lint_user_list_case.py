"""Lint: user allow lists compared ignoring case, or naming AWS's accounts for every engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.rules.lint.run import lint

RULE = """\
id: ddl
title: t
severity: medium
when: das.action == 'DDL' && {exempt}
"""


def _messages(tmp_path: Path, admins: list[str], exempt: str) -> list[str]:
    (tmp_path / "lists.yaml").write_text(f"lists:\n  admins: {admins}\n")
    (tmp_path / "ddl.yaml").write_text(RULE.format(exempt=exempt))
    report = lint([tmp_path], today=dt.date(2026, 1, 1))
    return [p.message for p in report.problems if "test" not in p.message]


def test_in_list_ci_over_users_is_a_warning(tmp_path: Path) -> None:
    msgs = _messages(tmp_path, ["dba"], "!in_list_ci(dbUserName, 'admins')")
    assert any("ignoring case (in_list_ci over admins)" in m for m in msgs)


def test_aws_names_in_a_user_list_are_a_warning(tmp_path: Path) -> None:
    msgs = _messages(tmp_path, ["dba", "rdsadmin", "RDSSEC"], "!in_list(das.user, 'admins')")
    [msg] = [m for m in msgs if "names AWS's accounts" in m]
    assert "admins: rdsadmin, RDSSEC" in msg


def test_exact_list_plus_the_builtin_is_clean(tmp_path: Path) -> None:
    exempt = "!in_list(dbUserName, 'admins') && !aws_internal_user(@)"
    assert _messages(tmp_path, ["dba"], exempt) == []


def test_the_builtin_satisfies_the_internal_users_check(tmp_path: Path) -> None:
    msgs = _messages(tmp_path, ["dba"], "!in_list(dbUserName, 'admins')")
    [msg] = [m for m in msgs if "internal users" in m]
    assert "rdsadmin" in msg
