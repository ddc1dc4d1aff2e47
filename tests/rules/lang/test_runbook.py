"""A rule's runbook: an http(s) URL, or a Markdown file shipped beside the rule."""

from __future__ import annotations

from pathlib import Path

from engine.rules.lang.loader import load_rules

RULE = """\
id: r
title: t
severity: high
when: das.action == 'DDL'
runbook: {runbook}
"""


def _load(tmp_path: Path, runbook: str):
    (tmp_path / "r.yaml").write_text(RULE.format(runbook=runbook))
    return load_rules([tmp_path])


def test_url_and_existing_relative_file_are_accepted(tmp_path: Path) -> None:
    assert _load(tmp_path, "https://wiki.example.com/ddl").rules[0].runbook.startswith("https://")
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "r.md").write_text("# steps\n")
    result = _load(tmp_path, "runbooks/r.md")
    assert [r.runbook for r in result.rules] == ["runbooks/r.md"] and not result.problems


def test_missing_file_or_absolute_path_is_an_error_with_line_and_hint(tmp_path: Path) -> None:
    for runbook in ("runbooks/typo.md", "/etc/passwd", "ftp://x"):
        result = _load(tmp_path, runbook)
        assert result.rules == []
        [problem] = result.problems
        assert problem.line == 5 and problem.rule_id == "r"
        assert "not an http(s) URL, nor a file beside the rule" in problem.message
        assert "runbooks/my-rule.md" in (problem.suggestion or "")


def test_every_shipped_rule_has_a_runbook_that_exists() -> None:
    rules_dir = Path(__file__).resolve().parents[3] / "rules"
    result = load_rules([rules_dir])
    assert result.rules and not [p for p in result.problems if p.level == "error"]
    for rule in result.rules:
        assert rule.runbook and (rules_dir / rule.runbook).is_file(), rule.id
