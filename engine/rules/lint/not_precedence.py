"""``!das.aux`` is ``(!das).aux``: JMESPath's ``!`` binds tighter than ``.``, so the negation
applies to ``das`` (giving ``false``) and ``.aux`` of a boolean is always null. The rule then
never matches (or, under ``||``, never contributes) and nothing says so at runtime.

Any sub-expression whose left side is a ``not`` is this trap: a boolean has no fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.rules.jpast import field_path, walk
from engine.rules.lint import LintContext, check
from engine.rules.model import Expr, Problem, Rule


def _negated_paths(expr: Expr) -> Iterator[str | None]:
    """``das.aux`` for every ``!das.aux`` in ``expr`` (None when the path is not plain fields)."""
    for node in walk(expr.compiled.parsed):
        kids: list[dict[str, Any]] = node.get("children") or []
        if node.get("type") != "subexpression" or not kids:
            continue
        if kids[0].get("type") != "not_expression":
            continue
        negated = field_path((kids[0].get("children") or [{}])[0])
        rest = field_path({"type": "subexpression", "children": kids[1:]})
        if negated is None or len(negated) != 1 or rest is None:
            yield None
        else:
            yield ".".join(negated + rest)


@check("not-precedence")
def not_precedence(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    exprs = [(rule.when, ctx.line(rule, "when"))] + [(ex.when, ex.line) for ex in rule.unless]
    for expr, line in exprs:
        for path in dict.fromkeys(_negated_paths(expr)):
            if path is None:
                yield ctx.problem(
                    rule,
                    line,
                    "a `!` followed by `.field` is always null: `!` binds tighter than `.`, "
                    "so the field is read from a boolean",
                    "put what you negate in parentheses: `!(a.b)`",
                )
                continue
            head, _, rest = path.partition(".")
            yield ctx.problem(
                rule,
                line,
                f"`!{path}` is read as `(!{head}).{rest}`, which is always null: "
                "`!` binds tighter than `.`",
                f"write `!({path})`, or {path} == `false` for a boolean field",
            )
