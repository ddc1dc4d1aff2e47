"""The pytest plugin: ``pytest rules/`` runs rule tests; ordinary pytest runs are untouched."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from engine.rules.lang.loader import load_rules

REPO = Path(__file__).resolve().parents[3]


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pytest_runs_every_test_of_the_shipped_rules() -> None:
    loaded = load_rules([REPO / "rules"])
    total = sum(len(r.tests) for r in loaded.rules)
    assert total >= 40
    proc = pytest_run("rules/", "-q", "--dasalert-min-tests", cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{total + len(loaded.rules)} passed" in proc.stdout


def test_a_users_pack_failures_lists_and_other_yaml(tmp_path: Path) -> None:
    rules = tmp_path / "detections"
    rules.mkdir()
    (rules / "lists.yaml").write_text("lists: {admins: [rdsadmin]}\n")
    (rules / "settings.yaml").write_text("retention: 7\nowner: secops\n")  # not a rule
    (rules / "ddl.yaml").write_text(
        textwrap.dedent(
            """
            id: ddl
            title: "DDL by {dbUserName}"
            severity: high
            when: das.action == 'DDL' && !in_list(dbUserName, 'admins')
            tests:
              - name: app creates a table
                event: {class: DDL, command: CREATE TABLE}
                expect: {match: true, title: "DDL by somebody"}
              - name: a read
                event: {}
                expect: {match: false}
            """
        )
    )
    proc = pytest_run("detections", "-v", cwd=tmp_path)  # a rules directory: it has lists.yaml
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "ddl.yaml::ddl::a read PASSED" in out
    assert "ddl.yaml::ddl::app creates a table FAILED" in out
    assert "- expected 'DDL by somebody'" in out and "+ actual   'DDL by app'" in out
    assert "lists.yaml" not in out.split("FAILURES")[0] and "settings.yaml" not in out
    assert "1 failed, 1 passed" in out


def test_a_broken_rule_file_is_one_failing_item(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text('id: bad\ntitle: t\nseverity: hihg\nwhen: "`true`"\n')
    proc = pytest_run("rules", "-q", cwd=tmp_path)
    assert proc.returncode == 1
    assert "bad.yaml::load" in proc.stdout and "hihg" in proc.stdout


def test_yaml_in_a_python_test_package_is_never_collected(tmp_path: Path) -> None:
    """This repo's own `pytest` (testpaths = tests) must not collect fixture YAML."""
    pkg = tmp_path / "tests" / "rules"
    pkg.mkdir(parents=True)
    (tmp_path / "tests" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "fixture.yaml").write_text("id: x\ntitle: t\nseverity: low\nwhen: broken ((\n")
    (pkg / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    for target in ("tests", "tests/rules"):
        proc = pytest_run(target, "-q", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 passed" in proc.stdout and "fixture.yaml" not in proc.stdout
