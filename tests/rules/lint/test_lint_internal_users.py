"""Lint: allow lists of users must keep AWS's internal users."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.rules.lint.run import lint

RULE = """\
id: ddl
title: t
severity: medium
when: das.action == 'DDL' && !{fn}(dbUserName, 'admins')
"""


def _warnings(tmp_path: Path, admins: list[str], fn: str = "in_list_ci") -> list[str]:
    (tmp_path / "lists.yaml").write_text(f"lists:\n  admins: {admins}\n")
    (tmp_path / "ddl.yaml").write_text(RULE.format(fn=fn))
    report = lint([tmp_path], today=dt.date(2026, 1, 1))
    return [p.message for p in report.problems if "internal users" in p.message]


def test_missing_internal_users_are_named(tmp_path: Path) -> None:
    [message] = _warnings(tmp_path, ["dba", "rdsadmin"])
    assert "(admins)" in message and "RDSSEC, rdsproxyadmin, rdsa" in message
    assert "rdsadmin," not in message


def test_case_insensitive_lists_cover_both_spellings(tmp_path: Path) -> None:
    assert _warnings(tmp_path, ["rdsadmin", "rdssec", "rdsproxyadmin", "rdsa"]) == []
    # in_list (case-sensitive) needs Oracle's uppercase spelling as well
    [message] = _warnings(tmp_path, ["rdsadmin", "rdssec", "rdsproxyadmin", "rdsa"], "in_list")
    assert "RDSADMIN, RDSSEC" in message


def test_the_shipped_pack_keeps_them(tmp_path: Path) -> None:
    rules = Path(__file__).resolve().parents[3] / "rules"
    report = lint([rules], today=dt.date(2026, 1, 1))
    assert not [p for p in report.problems if "internal users" in p.message]
