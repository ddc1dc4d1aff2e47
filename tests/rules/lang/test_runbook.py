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


def test_missing_file_or_absolute_path_warns_and_the_rule_still_loads(tmp_path: Path) -> None:
    """A pack copied without its runbooks/ folder keeps detecting; lint is where it fails."""
    for runbook in ("runbooks/typo.md", "/etc/passwd", "ftp://x"):
        result = _load(tmp_path, runbook)
        assert [r.id for r in result.rules] == ["r"]
        [problem] = result.problems
        assert problem.level == "warning"
        assert problem.line == 5 and problem.rule_id == "r"
        assert "not an http(s) URL, nor a file beside the rule" in problem.message
        assert "runbooks/my-rule.md" in (problem.suggestion or "")


def test_lint_fails_on_a_missing_runbook_file(tmp_path: Path) -> None:
    import datetime as dt

    from engine.rules.lint.run import lint

    (tmp_path / "r.yaml").write_text(RULE.format(runbook="runbooks/typo.md"))
    report = lint([tmp_path], today=dt.date(2026, 1, 1))
    [error] = report.errors
    assert error.rule_id == "r" and error.line == 5 and "runbooks/typo.md" in error.message


def test_a_copied_pack_without_runbooks_still_alerts(tmp_path: Path) -> None:
    """The shipped rules copied alone (no runbooks/ folder) all load and evaluate."""
    import shutil

    from engine.rules import build_engine

    rules_dir = Path(__file__).resolve().parents[3] / "rules"
    copy = tmp_path / "x"
    copy.mkdir()
    for f in rules_dir.glob("*.yaml"):
        shutil.copy(f, copy)
    shipped = load_rules([rules_dir]).rules
    result = load_rules([copy])
    assert len(result.rules) == len(shipped) > 0
    assert not [p for p in result.problems if p.level == "error"]
    assert build_engine(copy).ruleset is not None


def test_every_shipped_rule_has_a_runbook_that_exists() -> None:
    rules_dir = Path(__file__).resolve().parents[3] / "rules"
    result = load_rules([rules_dir])
    assert result.rules and not [p for p in result.problems if p.level == "error"]
    for rule in result.rules:
        assert rule.runbook and (rules_dir / rule.runbook).is_file(), rule.id
