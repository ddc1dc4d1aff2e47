"""``dasalert lint``: loader problems plus the advice of every registered check.

The loader says what cannot run (errors); the checks in ``engine/rules/lint`` say what runs but
is probably wrong (warnings: an expired exception, a comparison that cannot match on MySQL, a
rule without a negative test…). Pure: the date and the known outputs are passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.rules.lang.loader import LoadResult, load_rules
from engine.rules.lang.schema import KNOWN_OUTPUTS
from engine.rules.lint import LintContext, all_checks
from engine.rules.model import Problem


@dataclass
class LintReport:
    result: LoadResult
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level != "error"]

    def summary(self) -> str:
        files = len(self.result.files)
        rules = len(self.result.rules)
        e, w = len(self.errors), len(self.warnings)
        return (
            f"{files} file{'s' * (files != 1)}, {rules} rule{'s' * (rules != 1)} loaded: "
            f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"
        )


def known_outputs() -> frozenset[str]:
    """Registered output names; the documented four when the registry is empty or broken."""
    try:
        from engine.outputs.base import registry

        names = frozenset(registry())
    except Exception:  # an output module that fails to import must not break lint
        names = frozenset()
    return names or frozenset(KNOWN_OUTPUTS)


def derived_fields() -> frozenset[str]:
    """The ``das.*`` names engine.events.normalize produces (empty if it is not there yet)."""
    try:
        from engine.events import base_event, normalize

        return frozenset(normalize(base_event("postgres")).get("das") or {})
    except Exception:
        return frozenset()


def _sort_key(p: Problem) -> tuple[str, int, str]:
    return (p.file, p.line or 0, p.message)


def lint_result(
    result: LoadResult,
    *,
    today: dt.date,
    outputs: Iterable[str] | None = None,
    das_fields: Iterable[str] | None = None,
    checks: Iterable[str] | None = None,
) -> LintReport:
    """Run the checks over an already loaded rule set."""
    ctx = LintContext(
        today=today,
        outputs=frozenset(outputs) if outputs is not None else known_outputs(),
        key_lines=result.key_lines,
        lists=result.lists,
        params=result.params,
        das_fields=frozenset(das_fields) if das_fields is not None else derived_fields(),
    )
    registered = all_checks()
    selected = [registered[n] for n in (checks or sorted(registered))]
    problems = list(result.problems)
    for rule in result.rules:
        for fn in selected:
            try:
                problems.extend(fn(rule, ctx))
            except Exception as exc:  # a broken check is a finding, not a crash
                name = getattr(fn, "check_name", fn.__name__)
                problems.append(
                    Problem(rule.file, rule.line, rule.id, f"lint check {name} failed: {exc!r}")
                )
    return LintReport(result, sorted(problems, key=_sort_key))


def lint(
    paths: str | Path | Iterable[str | Path],
    *,
    lists_path: str | Path | None = None,
    today: dt.date,
    outputs: Iterable[str] | None = None,
    das_fields: Iterable[str] | None = None,
) -> LintReport:
    return lint_result(
        load_rules(paths, lists_path=lists_path),
        today=today,
        outputs=outputs,
        das_fields=das_fields,
    )
