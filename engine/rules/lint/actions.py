"""``das.action == 'LOGIN_FAIL'`` never matches: the action vocabulary is small and fixed."""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.jpast import ACTION_PATH, compared_paths, contains_path, literal_str, scoped
from engine.rules.lang.expr import did_you_mean
from engine.rules.lang.schema import DAS_ACTIONS
from engine.rules.lint import LintContext, check
from engine.rules.model import Expr, Problem, Rule


def _compared_actions(expr: Expr) -> Iterator[str]:
    """Every string ``das.action`` is compared with (``==``, ``!=``…, ``contains``).

    Only where the comparison reads the event's own ``das.action`` (``das | action == 'X'``
    too); inside a filter or projection ``das.action`` is an element's field.
    """
    for node, at in scoped(expr.compiled.parsed):
        if at is None:
            continue
        for path, other in compared_paths(node):
            value = literal_str(other)
            if at + path == ACTION_PATH and value is not None:
                yield value
        pinned = contains_path(node)
        if pinned is not None and at + pinned[1] == ACTION_PATH:
            yield from (v for v in pinned[0] if isinstance(v, str))


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
