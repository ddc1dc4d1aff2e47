"""``dasalert coverage``: a rule counts for an engine only through a passing positive test there,
and docs/coverage.md is exactly what the command prints for the shipped pack."""

from __future__ import annotations

from pathlib import Path

from engine.cli import main
from engine.rules.lang.loader import load_rules
from engine.rules.testing.coverage import build_coverage, markdown_document, techniques_of

REPO = Path(__file__).resolve().parents[2]

RULE = """\
id: demo-rule
title: "demo {dbUserName}"
severity: high
tags: [attack.execution, attack.t1059, attack.t1059.003, custom.tag]
when: das.action == 'FUNCTION' && imatches(das.sql, 'xp_cmdshell')
dedup: {window: 1h}
tests:
  - name: positive that passes (sqlserver)
    engine: sqlserver
    event: {command: EXECUTE, commandText: "EXEC xp_cmdshell 'dir'"}
    expect: {match: true}
  - name: positive that fails (postgres)
    engine: postgres
    event: {class: FUNCTION, command: SELECT, commandText: "SELECT 1"}
    expect: {match: true}
  - name: a negative proves nothing (mysql)
    engine: mysql
    event: {command: QUERY, commandText: "SELECT 1"}
    expect: {match: false}
"""


def _pack(tmp_path: Path) -> Path:
    (tmp_path / "demo-rule.yaml").write_text(RULE, encoding="utf-8")
    (tmp_path / "lists.yaml").write_text("lists: {}\n", encoding="utf-8")
    return tmp_path


def test_only_passing_positive_tests_put_a_rule_in_a_cell(tmp_path: Path) -> None:
    loaded = load_rules([_pack(tmp_path)])
    assert techniques_of(loaded.rules[0]) == ["T1059", "T1059.003"]
    coverage = build_coverage(loaded.rules, loaded.lists, loaded.params)
    assert coverage.proven == {"demo-rule": {"sqlserver"}}
    assert coverage.rules_in("T1059", "sqlserver") == ["demo-rule"]
    assert coverage.rules_in("T1059", "postgres") == []
    assert coverage.rules_in("T1059", "mysql") == []
    assert coverage.techniques == ["T1059", "T1059.003"]


def test_the_table_and_markdown_forms(tmp_path: Path, capsys) -> None:
    pack = _pack(tmp_path)
    assert main(["coverage", str(pack)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("T1059 "))
    assert row.split()[-4:] == ["-", "-", "-", "1"]
    assert main(["coverage", "--format", "markdown", str(pack)]) == 0
    md = capsys.readouterr().out
    assert "| T1059.003 Windows Command Shell | – | – | – | `demo-rule` |" in md


def test_a_pack_that_does_not_load_is_an_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.yaml").write_text("id: bad\nseverity: high\n", encoding="utf-8")
    assert main(["coverage", str(tmp_path)]) == 1
    assert "bad" in capsys.readouterr().err


def test_docs_coverage_is_current() -> None:
    loaded = load_rules([REPO / "rules"])
    expected = markdown_document(build_coverage(loaded.rules, loaded.lists, loaded.params))
    current = (REPO / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/coverage.md is stale: run `dasalert coverage --format markdown rules/ > "
        "docs/coverage.md`"
    )


def test_the_shipped_pack_covers_the_core_techniques_on_every_engine() -> None:
    loaded = load_rules([REPO / "rules"])
    coverage = build_coverage(loaded.rules, loaded.lists, loaded.params)
    assert not coverage.unproven
    for tech in ("T1110", "T1098", "T1136", "T1190", "T1485", "T1537", "T1555", "T1562"):
        for engine in coverage.engines:
            assert coverage.rules_in(tech, engine), (tech, engine)
