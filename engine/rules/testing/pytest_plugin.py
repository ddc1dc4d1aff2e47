"""pytest plugin (entry point ``pytest11``): collects the inline ``tests:`` of rule files.

``pytest rules/`` runs every rule test as a pytest item (``rules/ddl.yaml::ddl-by-non-admin::app
creates a table``), through the same runner as ``dasalert test`` — which is the production
Engine — so a user's CI needs nothing but pytest.

The plugin is installed with dasalert and therefore loaded in *every* pytest run, so it is
careful to collect only what is unmistakably a rule pack:

* a YAML file given on the command line (``pytest rules/ddl.yaml``), or
* a YAML file under a directory given on the command line that is a rules directory: not a
  Python package (no ``__init__.py``) and either named ``rules`` or holding a ``lists.yaml``
  (``--dasalert-rules`` makes any given directory count);

and, of those, only files that look like a rule (top-level ``id:`` and ``when:`` keys), never
``lists.yaml``. A plain ``pytest`` run over ``tests/`` therefore collects no YAML at all, and
nothing of dasalert is imported until a rule file is actually collected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

_SUFFIXES = (".yaml", ".yml")
_LISTS_FILES = ("lists.yaml", "lists.yml")
_ID_RE = re.compile(r"^id\s*:", re.M)
_WHEN_RE = re.compile(r"^(?:when|sequence)\s*:", re.M)  # a sequence rule may have no `when`
_ROOTS_KEY = pytest.StashKey[tuple[set[Path], set[Path]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dasalert", "dasalert rule tests")
    group.addoption(
        "--dasalert-rules",
        action="store_true",
        default=False,
        help="collect rule tests from YAML rule files under every directory given",
    )
    group.addoption(
        "--dasalert-min-tests",
        action="store_true",
        default=False,
        help="also fail each rule that lacks a positive and a negative test",
    )


def _roots(config: pytest.Config) -> tuple[set[Path], set[Path]]:
    """(rule files, rules directories) named on the command line, resolved once."""
    cached = config.stash.get(_ROOTS_KEY, None)
    if cached is not None:
        return cached
    files: set[Path] = set()
    dirs: set[Path] = set()
    base = Path(config.invocation_params.dir)
    force = bool(config.getoption("dasalert_rules", False))
    for arg in config.args:
        path = (base / str(arg).split("::", 1)[0]).resolve()
        if path.is_file() and path.suffix in _SUFFIXES:
            files.add(path)
        elif path.is_dir() and not (path / "__init__.py").exists():
            is_pack = path.name == "rules" or any((path / n).is_file() for n in _LISTS_FILES)
            if force or is_pack:
                dirs.add(path)
    config.stash[_ROOTS_KEY] = (files, dirs)
    return files, dirs


def _looks_like_rule(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_ID_RE.search(text) and _WHEN_RE.search(text))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in _SUFFIXES or file_path.name in _LISTS_FILES:
        return None
    files, dirs = _roots(parent.config)
    path = file_path.resolve()
    if path not in files and not any(d in path.parents for d in dirs):
        return None
    if not _looks_like_rule(path):
        return None
    return RuleFile.from_parent(parent, path=file_path)


class RuleFile(pytest.File):
    """One rule file: one item per inline test, or one failing item when it does not load."""

    def collect(self) -> Any:
        from engine.rules.lang.loader import load_rules

        loaded = load_rules([self.path])
        errors = [p for p in loaded.problems if p.level == "error"]
        if errors:
            yield RuleLoadItem.from_parent(self, name="load", problems=[str(p) for p in errors])
        warnings = _lint_warnings(loaded)
        for rule in loaded.rules:
            for test in rule.tests:
                yield RuleTestItem.from_parent(
                    self,
                    name=f"{rule.id}::{test.name}",
                    rule=rule,
                    test=test,
                    lists=loaded.lists,
                    params=loaded.params,
                    warnings=warnings.get(rule.id, []),
                )
            if self.config.getoption("dasalert_min_tests", False):
                yield RuleCoverageItem.from_parent(self, name=f"{rule.id}::min-tests", rule=rule)


def _lint_warnings(loaded: Any) -> dict[str, list[str]]:
    """Lint's warnings per rule id, shown with a failing test (never fails collection)."""
    import datetime as dt

    from engine.rules.lint.run import lint_result

    try:
        report = lint_result(loaded, today=dt.datetime.now(dt.UTC).date())
    except Exception:
        return {}
    out: dict[str, list[str]] = {}
    for p in report.warnings:
        out.setdefault(p.rule_id or "", []).append(str(p))
    return out


class RuleTestFailed(Exception):
    """Carries the diff lines of a failed rule test (shown instead of a traceback)."""


class _RuleItem(pytest.Item):
    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        # a failed rule test shows its diff lines; anything else pytest's own representation
        if isinstance(excinfo.value, RuleTestFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class RuleTestItem(_RuleItem):
    def __init__(
        self,
        *,
        rule: Any,
        test: Any,
        lists: Any,
        params: Any,
        warnings: list[str] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.rule, self.test, self.lists, self.params = rule, test, lists, params
        self.warnings = warnings or []

    def runtest(self) -> None:
        from engine.rules.testing.runner import run_test

        outcome = run_test(self.rule, self.test, self.lists, self.params)
        if not outcome.passed:
            lines = [f"{self.rule.id} :: {self.test.name} ({outcome.where})", *outcome.failures]
            if outcome.alerts:
                lines.append("  alerts produced:")
                lines += [
                    f"    [{a['severity']}] {a['kind']} {a['title']!r} count={a['count']}"
                    f" first_seen={a.get('first_seen')} last_seen={a.get('last_seen')}"
                    for a in outcome.alerts
                ]
            else:
                lines.append("  alerts produced: none")
            if self.warnings:
                lines.append("  lint warnings for this rule (one may explain the failure):")
                lines += [f"    {w}" for w in self.warnings]
            # why each event matched or not: what `dasalert test --explain` prints
            explained = run_test(self.rule, self.test, self.lists, self.params, explain=True)
            lines.append("  explanation:")
            lines += [f"  {line}" for line in explained.explanation]
            raise RuleTestFailed("\n".join(lines))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = (self.test.line - 1) if self.test.line else None
        return self.path, line, f"{self.rule.id}: {self.test.name}"


class RuleLoadItem(_RuleItem):
    def __init__(self, *, problems: list[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.problems = problems

    def runtest(self) -> None:
        raise RuleTestFailed("\n".join(self.problems))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"load {self.path.name}"


class RuleCoverageItem(_RuleItem):
    def __init__(self, *, rule: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.rule = rule

    def runtest(self) -> None:
        from engine.rules.testing.runner import coverage_problem

        problem = coverage_problem(self.rule)
        if problem:
            raise RuleTestFailed(problem)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.rule.id}: min tests"
