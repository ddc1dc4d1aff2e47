"""A text where a function takes a list: ``starts_with_any(das.time, 'admins')``.

``starts_with_any``, ``ends_with_any`` and ``contains_any`` take a *literal list* of strings. Given
a single string they test that one string, so ``starts_with_any(dbUserName, 'admins')`` — meant
as "a name in the list ``admins``" — quietly tests the prefix ``admins`` and is almost never true.
A named list is read only by ``in_list``/``in_list_ci``/``cidr_match``; this is an error because
the rule runs and is silently wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.rules.jpast import walk
from engine.rules.lint import LintContext, check
from engine.rules.model import Expr, Problem, Rule

# function -> index of the argument that must be a list
LIST_ARGS: dict[str, int] = {"starts_with_any": 1, "ends_with_any": 1, "contains_any": 1}


def _text_literal(node: dict[str, Any]) -> str | None:
    if node.get("type") == "literal" and isinstance(node.get("value"), str):
        return str(node["value"])
    return None


def text_for_list(expr: Expr, lists: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(message, suggestion) for each list argument written as one string."""
    for node in walk(expr.compiled.parsed):
        if node.get("type") != "function_expression" or node.get("value") not in LIST_ARGS:
            continue
        name, idx = node["value"], LIST_ARGS[node["value"]]
        args = node.get("children") or []
        text = _text_literal(args[idx]) if idx < len(args) else None
        if text is None:
            continue
        message = f"`{name}()` takes a list as argument {idx + 1}, not the text '{text}'"
        if text in lists:
            values = ", ".join(f"'{v}'" for v in list(lists[text])[:3])
            hint = (
                f"'{text}' is a named list, which `{name}()` does not read: write its values "
                f"as a literal list ([{values}{', …' if len(lists[text]) > 3 else ''}]), or use "
                f"in_list / in_list_ci for membership"
            )
        else:
            hint = f"write a list: {name}(…, ['{text}'])"
        yield message, hint


@check("list-argument")
def list_argument(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    exprs = [(rule.when, ctx.line(rule, "when"), "")]
    exprs += [(ex.when, ex.line, "unless: ") for ex in rule.unless]
    for expr, line, prefix in exprs:
        for message, hint in text_for_list(expr, ctx.lists):
            yield ctx.problem(rule, line, prefix + message, hint, level="error")
