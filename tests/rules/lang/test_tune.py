"""Layered rule folders and ``tune:`` entries: the user's folder adjusts the shipped pack."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from engine.cli import main
from engine.events import base_event
from engine.rules import build_engine
from engine.rules.lang.loader import load_rules

SHIPPED = """\
id: ddl-by-non-admin
title: "DDL by {dbUserName}"
severity: high
when: "das.action == 'DDL' && !in_list(dbUserName, 'admins')"
"""
OTHER = """\
id: any-read
title: "read by {dbUserName}"
severity: low
when: "das.action == 'READ'"
"""
TODAY = dt.date(2026, 12, 4)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    shipped, ours = tmp_path / "shipped", tmp_path / "ours"
    shipped.mkdir()
    ours.mkdir()
    (shipped / "ddl.yaml").write_text(SHIPPED)
    (shipped / "read.yaml").write_text(OTHER)
    (shipped / "lists.yaml").write_text("lists: {admins: [rdsadmin]}\nparams: {n: 1}\n")
    return shipped, ours


def ddl(user: str) -> dict:
    from engine.events import normalize

    raw = base_event("postgres")
    raw.update({"class": "DDL", "command": "CREATE TABLE", "commandText": "CREATE TABLE t (x int)"})
    raw["dbUserName"] = user
    return normalize(raw)


def test_tune_adds_an_exception_and_disables_a_rule(folders: tuple[Path, Path]) -> None:
    shipped, ours = folders
    (ours / "tune.yaml").write_text(
        "tune:\n"
        "  - rule: ddl-by-non-admin\n"
        "    unless: \"dbUserName == 'flyway'\"\n"
        "    reason: schema migrations, ticket SEC-142\n"
        "    expires: 2027-06-30\n"
        "  - rule: any-read\n"
        "    disable: true\n"
        "    reason: too noisy for us\n"
    )
    (ours / "lists.yaml").write_text("lists: {admins: [dba_alice]}\nparams: {n: 2}\n")
    loaded = load_rules([shipped, ours], today=TODAY)
    assert [p for p in loaded.problems if p.level == "error"] == []
    assert [r.id for r in loaded.rules] == ["ddl-by-non-admin"]
    assert loaded.disabled == ["any-read"]
    assert [t.status for t in loaded.tunes] == ["applied", "applied"]
    assert loaded.lists["admins"] == ["rdsadmin", "dba_alice"] and loaded.params["n"] == 2
    wired = build_engine(os.pathsep.join([str(shipped), str(ours)]))  # DASALERT_RULES form
    alerts = wired.engine.process([ddl("flyway"), ddl("dba_alice"), ddl("mallory")]).alerts
    assert [a.event["dbUserName"] for a in alerts] == ["mallory"]


def test_expired_tunes_no_longer_apply_and_say_so(folders: tuple[Path, Path]) -> None:
    shipped, ours = folders
    (ours / "tune.yaml").write_text(
        "tune:\n  - {rule: any-read, disable: true, reason: old, expires: 2026-01-01}\n"
    )
    loaded = load_rules([shipped, ours], today=TODAY)
    assert {r.id for r in loaded.rules} == {"ddl-by-non-admin", "any-read"}
    [warning] = [p for p in loaded.problems if "expired" in p.message]
    assert warning.level == "warning" and warning.line == 2


@pytest.mark.parametrize(
    ("entry", "needle", "hint"),
    [
        (
            "{rule: ddl-by-non-admn, disable: true, reason: x}",
            "no rule folder defines",
            "ddl-by-non-admin",
        ),
        ("{rule: any-read, disable: true}", "needs `reason`", "reason"),
        (
            "{rule: any-read, disable: true, reason: x, expire: 2027-01-01}",
            "unknown key `expire`",
            "expires",
        ),
        ("{rule: any-read, reason: x}", "one of them", "disable"),
        ("{rule: any-read, unless: \"lowr(dbUserName) == 'x'\", reason: x}", "lowr", "lower"),
        ("{rule: any-read, disable: yes please, reason: x}", "true or false", None),
        ("{rule: any-read, disable: true, reason: x, expires: soon}", "YYYY-MM-DD", None),
    ],
)
def test_tune_entries_are_validated_like_rules(
    folders: tuple[Path, Path], entry: str, needle: str, hint: str | None
) -> None:
    shipped, ours = folders
    (ours / "tune.yaml").write_text(f"tune:\n  - {entry}\n")
    loaded = load_rules([shipped, ours], today=TODAY)
    found = [p for p in loaded.problems if needle in p.message]
    assert found, [str(p) for p in loaded.problems]
    assert found[0].level == "error" and found[0].line == 2
    assert found[0].file.endswith("tune.yaml")
    if hint:
        assert hint in (found[0].suggestion or "")


def test_a_rule_id_twice_across_folders_points_at_tune(folders: tuple[Path, Path]) -> None:
    shipped, ours = folders
    (ours / "mine.yaml").write_text(SHIPPED)
    loaded = load_rules([shipped, ours], today=TODAY)
    [dup] = [p for p in loaded.problems if "duplicate rule id" in p.message]
    assert "tune" in (dup.suggestion or "")


def test_cli_layers_folders_and_lint_shows_the_effective_pack(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped, ours = folders
    (ours / "tune.yaml").write_text(
        "tune:\n  - {rule: ddl-by-non-admin, unless: \"dbUserName == 'flyway'\", reason: ci}\n"
        "  - {rule: any-read, disable: true, reason: noisy, expires: 2020-01-01}\n"
    )
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(ddl(u)) for u in ("flyway", "mallory")) + "\n")
    code = main(
        ["eval", str(events), "--rules", str(shipped), "--rules", str(ours), "--format", "json"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert [json.loads(line)["event"]["dbUserName"] for line in out.splitlines()] == ["mallory"]
    code = main(["lint", str(shipped), str(ours), "--today", "2026-12-04"])
    out = capsys.readouterr().out
    assert "tune ddl-by-non-admin: unless `dbUserName == 'flyway'` — ci [applied]" in out
    assert "tune any-read: disable — noisy, expires 2020-01-01 [expired]" in out
    assert "1 of 2 tune entries applied" in out


def test_unless_as_a_list_of_exceptions_and_id_as_the_rule_key(folders: tuple[Path, Path]) -> None:
    shipped, ours = folders
    (ours / "tune.yaml").write_text(
        "tune:\n"
        "  - id: ddl-by-non-admin\n"
        "    unless:\n"
        "      - {when: \"dbUserName == 'flyway'\", reason: migrations, expires: 2027-06-30}\n"
        "      - when: \"dbUserName == 'liquibase'\"\n"
        "    reason: schema tools\n"
    )
    loaded = load_rules([shipped, ours], today=TODAY)
    assert [p for p in loaded.problems if p.level == "error"] == []
    [rule] = [r for r in loaded.rules if r.id == "ddl-by-non-admin"]
    assert [(x.when.src, x.reason, x.expires) for x in rule.unless] == [
        ("dbUserName == 'flyway'", "migrations", dt.date(2027, 6, 30)),
        ("dbUserName == 'liquibase'", "schema tools", None),
    ]
    wired = build_engine([shipped, ours])
    alerts = wired.engine.process([ddl("flyway"), ddl("liquibase"), ddl("mallory")]).alerts
    assert [a.event["dbUserName"] for a in alerts] == ["mallory"]
