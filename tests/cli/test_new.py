"""``dasalert new``: the scaffold passes lint and its tests as written, for any engine choice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.events import ENGINES

ROOT = Path(__file__).resolve().parents[2]


def _lint_and_test(rules: Path, capsys) -> tuple[int, int, str]:
    capsys.readouterr()
    lint_rc = main(["lint", "--strict", str(rules)])
    test_rc = main(["test", "--min-tests", str(rules)])
    return lint_rc, test_rc, capsys.readouterr().out


@pytest.mark.parametrize("engines", [[e] for e in ENGINES] + [[], ["mysql,sqlserver"]])
def test_scaffold_passes_strict_lint_and_min_tests(tmp_path: Path, engines, capsys) -> None:
    flags = [x for e in engines for x in ("--engine", e)]
    assert main(["new", "drop-watch", "--rules", str(tmp_path), *flags]) == 0
    text = (tmp_path / "drop-watch.yaml").read_text()
    assert (tmp_path / "runbooks" / "drop-watch.md").is_file()
    chosen = [e for e in ENGINES if not engines or any(e in x for x in engines)]
    for engine in ENGINES:
        assert (f"engine: {engine}" in text) == (engine in chosen)
    lint_rc, test_rc, out = _lint_and_test(tmp_path, capsys)
    assert (lint_rc, test_rc) == (0, 0), out
    assert "0 errors, 0 warnings" in out
    assert f"{2 * len(chosen)} passed" in out


def test_scaffold_in_a_copy_of_the_shipped_pack_is_lint_clean(tmp_path: Path, capsys) -> None:
    pack = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", pack)
    assert main(["new", "scaffolded-rule", "--rules", str(pack)]) == 0
    capsys.readouterr()
    assert main(["lint", str(pack / "scaffolded-rule.yaml")]) == 0
    assert main(["test", str(pack), "-k", "scaffolded-rule"]) == 0, capsys.readouterr().out


def test_near_miss_tests_catch_a_predicate_that_is_too_wide(tmp_path: Path, capsys) -> None:
    assert main(["new", "drop-watch", "--rules", str(tmp_path)]) == 0
    rule = tmp_path / "drop-watch.yaml"
    rule.write_text(rule.read_text().replace(" && das.verb == 'DROP TABLE'", ""))
    _, test_rc, out = _lint_and_test(tmp_path, capsys)
    assert test_rc == 1
    assert out.count("near miss") >= 2 * len(ENGINES)  # listed, then detailed as failures


def test_existing_files_and_used_ids_are_refused(tmp_path: Path, capsys) -> None:
    assert main(["new", "drop-watch", "--rules", str(tmp_path)]) == 0
    assert main(["new", "drop-watch", "--rules", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["new", "drop-watch", "--rules", str(tmp_path), "--force"]) == 0
    (tmp_path / "other.yaml").write_text("id: taken-id\n")
    assert main(["new", "taken-id", "--rules", str(tmp_path)]) == 2
    assert "already used by" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["new", "Drop_Watch"], "write `drop-watch`"),
        (["new", "x", "--engine", "db2"], "unknown engine 'db2'"),
        (["new", "x", "--severity", "urgent"], "severity 'urgent'"),
    ],
)
def test_bad_arguments_exit_2_with_the_fix(argv, message, tmp_path: Path, capsys) -> None:
    assert main([*argv, "--rules", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_stdout_writes_nothing(tmp_path: Path, capsys) -> None:
    assert main(["new", "drop-watch", "--rules", str(tmp_path), "--stdout"]) == 0
    assert capsys.readouterr().out.startswith("# Scaffolded by `dasalert new drop-watch`")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["statement", "threshold", "sequence"])
@pytest.mark.parametrize("engine", ENGINES)
def test_every_kind_passes_on_every_engine(tmp_path: Path, kind: str, engine: str, capsys) -> None:
    argv = ["new", f"{kind}-rule", "--rules", str(tmp_path), "--kind", kind, "--engine", engine]
    assert main(argv) == 0
    lint_rc, test_rc, out = _lint_and_test(tmp_path, capsys)
    assert (lint_rc, test_rc) == (0, 0), out
    assert "0 errors, 0 warnings" in out and "2 passed" in out
    text = (tmp_path / f"{kind}-rule.yaml").read_text()
    assert ("threshold:" in text) == (kind == "threshold")
    assert ("sequence:" in text) == (kind == "sequence")


def test_threshold_near_miss_fails_when_the_count_is_lowered(tmp_path: Path, capsys) -> None:
    argv = ["new", "burst", "--rules", str(tmp_path), "--kind", "threshold", "--engine", "mysql"]
    assert main(argv) == 0
    rule = tmp_path / "burst.yaml"
    rule.write_text(rule.read_text().replace("count: 3", "count: 2"))
    _, test_rc, out = _lint_and_test(tmp_path, capsys)
    assert test_rc == 1 and "near miss, two failed logins (mysql) FAIL" in out
