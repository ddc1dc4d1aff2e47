"""Lint checks: one module per check, found by a tiny registry (pySigma's validators style).

A new check is one new file in this package with a function decorated by ``@check("name")``
that takes ``(rule, ctx)`` and yields ``Problem``s. Checks advise on rules that *loaded*
(the loader already rejected what cannot run); most of what they say is a warning.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.rules.model import Problem, Rule

CheckFn = Callable[[Rule, "LintContext"], Iterable[Problem]]

_CHECKS: dict[str, CheckFn] = {}
_loaded = False


@dataclass
class LintContext:
    """What checks may consult besides the rule: lines, today's date, known outputs, fields."""

    today: dt.date
    outputs: frozenset[str]
    key_lines: dict[str, dict[str, int]] = field(default_factory=dict)
    lists: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    das_fields: frozenset[str] = frozenset()

    def line(self, rule: Rule, key: str) -> int | None:
        return self.key_lines.get(rule.id, {}).get(key, rule.line)

    def problem(
        self,
        rule: Rule,
        line: int | None,
        message: str,
        suggestion: str | None = None,
        level: str = "warning",
    ) -> Problem:
        return Problem(rule.file, line, rule.id, message, suggestion, level)


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        if name in _CHECKS and _CHECKS[name] is not fn:
            raise ValueError(f"lint check {name!r} registered twice")
        fn.check_name = name  # type: ignore[attr-defined]
        _CHECKS[name] = fn
        return fn

    return deco


def all_checks() -> dict[str, CheckFn]:
    """Every registered check, importing this package's modules once."""
    global _loaded
    if not _loaded:
        import engine.rules.lint as pkg

        for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if not mod.name.startswith("_"):
                importlib.import_module(f"engine.rules.lint.{mod.name}")
        _loaded = True
    return dict(_CHECKS)
