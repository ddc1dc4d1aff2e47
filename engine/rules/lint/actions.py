"""``das.action == 'LOGIN_FAIL'`` never matches: the action vocabulary is small and fixed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.rules.lang.expr import did_you_mean
from engine.rules.lang.schema import DAS_ACTIONS
from engine.rules.lint import LintContext, check
from engine.rules.lint._fields import field_path, root_nodes
from engine.rules.model import Expr, Problem, Rule

_ACTION = ("das", "action")


def _compared_actions(expr: Expr) -> Iterator[str]:
    for node in root_nodes(expr.compiled.parsed):
        kids: list[dict[str, Any]] = node.get("children") or []
        if node.get("type") == "comparator" and len(kids) == 2:
            for f, lit in ((kids[0], kids[1]), (kids[1], kids[0])):
                value = lit.get("value") if lit.get("type") == "literal" else None
                if field_path(f) == _ACTION and isinstance(value, str):
                    yield value
        elif (
            node.get("type") == "function_expression"
            and node.get("value") == "contains"
            and len(kids) == 2
            and field_path(kids[1]) == _ACTION
        ):
            first = kids[0]
            if first.get("type") == "literal" and isinstance(first.get("value"), list):
                yield from (v for v in first["value"] if isinstance(v, str))
            elif first.get("type") == "multi_select_list":
                for k in first.get("children") or []:
                    if k.get("type") == "literal" and isinstance(k.get("value"), str):
                        yield k["value"]


@check("unknown-action")
def unknown_action(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    exprs = [(rule.when, ctx.line(rule, "when"))] + [(ex.when, ex.line) for ex in rule.unless]
    for expr, line in exprs:
        for value in dict.fromkeys(_compared_actions(expr)):
            if value not in DAS_ACTIONS:
                yield ctx.problem(
                    rule,
                    line,
                    f"das.action is never '{value}'",
                    did_you_mean(value.upper(), DAS_ACTIONS)
                    or f"das.action is one of {', '.join(DAS_ACTIONS)}",
                )
