"""The rule-repository layout of docs/rule-repo.md works as described, and the pre-commit hooks
that dasalert ships run ``dasalert`` commands that pass on a good pack."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _site_repo(tmp_path: Path, exclude: tuple[str, ...] = ()) -> Path:
    """rules/lists.yaml (the shipped one), rules/base (the pack without lists), rules/site."""
    rules = tmp_path / "rules"
    shutil.copytree(
        ROOT / "rules",
        rules / "base",
        ignore=shutil.ignore_patterns("lists.yaml", "lists.yml", *exclude),
    )
    shutil.copy(ROOT / "rules" / "lists.yaml", rules / "lists.yaml")
    return rules


def test_base_plus_site_overlay_passes_lint_and_tests(tmp_path: Path, capsys) -> None:
    rules = _site_repo(tmp_path)
    assert (
        main(["new", "site-drop-watch", "--rules", str(rules / "site"), "--engine", "mysql"]) == 0
    )
    capsys.readouterr()
    assert main(["lint", "--strict", str(rules)]) == 0, capsys.readouterr().out
    assert main(["test", "--min-tests", "-q", str(rules)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "site-drop-watch" not in out  # -q lists failures only: none


def test_a_shipped_rule_is_replaced_by_excluding_it_and_writing_the_site_version(
    tmp_path: Path, capsys
) -> None:
    rules = _site_repo(tmp_path, exclude=("large-read.yaml",))
    site = rules / "site"
    site.mkdir()
    text = (ROOT / "rules" / "large-read.yaml").read_text(encoding="utf-8")
    (site / "large-read.yaml").write_text(text.replace("severity: medium", "severity: high"))
    shutil.copytree(ROOT / "rules" / "runbooks", site / "runbooks")
    assert main(["lint", "--strict", str(rules)]) == 0, capsys.readouterr().out
    # without the exclusion the id is defined twice: the loader refuses the second
    shutil.copy(ROOT / "rules" / "large-read.yaml", rules / "base" / "large-read.yaml")
    capsys.readouterr()
    assert main(["lint", str(rules)]) == 1
    assert "duplicate rule id `large-read`" in capsys.readouterr().out


def test_a_second_lists_file_in_base_is_an_error(tmp_path: Path, capsys) -> None:
    rules = _site_repo(tmp_path)
    shutil.copy(ROOT / "rules" / "lists.yaml", rules / "base" / "lists.yaml")
    assert main(["lint", str(rules)]) == 1
    assert "is also defined in" in capsys.readouterr().out


HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h["id"])
def test_pre_commit_hook_runs_a_dasalert_command_that_passes_on_the_pack(hook, capsys) -> None:
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    argv = shlex.split(hook["entry"])
    assert argv[0] == "dasalert"
    assert hook["args"] == ["rules"]
    assert main([*argv[1:], str(ROOT / "rules")]) == 0, capsys.readouterr().out


def test_pre_commit_hooks_are_the_documented_ones() -> None:
    doc = (ROOT / "docs" / "rule-repo.md").read_text(encoding="utf-8")
    for hook in HOOKS:
        assert f"id: {hook['id']}" in doc
