"""A text where a function takes a list: ``starts_with_any(das.time, 'admins')``.

``starts_with_any``, ``ends_with_any`` and ``contains_any`` take a *literal list* of strings. Given
a single string they test that one string, so ``starts_with_any(dbUserName, 'admins')`` — meant
as "a name in the list ``admins``" — quietly tests the prefix ``admins`` and is almost never true.
A text that names a list of lists.yaml is that list (operators extend a signature there); any
other text is an error because the rule runs and is silently wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.rules.jpast import literal_str, walk
from engine.rules.lint import LintContext, check
from engine.rules.model import Expr, Problem, Rule

# function -> index of the argument that must be a list
LIST_ARGS: dict[str, int] = {"starts_with_any": 1, "ends_with_any": 1, "contains_any": 1}


def text_for_list(expr: Expr, lists: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(message, suggestion) for each list argument written as one string."""
    for node in walk(expr.compiled.parsed):
        if node.get("type") != "function_expression" or node.get("value") not in LIST_ARGS:
            continue
        name, idx = node["value"], LIST_ARGS[node["value"]]
        args = node.get("children") or []
        text = literal_str(args[idx]) if idx < len(args) else None
        if text is None:
            continue
        if text in lists:
            continue  # a named list: its values are the prefixes / suffixes / needles
        message = f"`{name}()` takes a list as argument {idx + 1}, not the text '{text}'"
        yield message, f"write a list: {name}(…, ['{text}']), or name a list of lists.yaml"


@check("list-argument")
def list_argument(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    exprs = [(rule.when, ctx.line(rule, "when"), "")]
    exprs += [(ex.when, ex.line, "unless: ") for ex in rule.unless]
    for expr, line, prefix in exprs:
        for message, hint in text_for_list(expr, ctx.lists):
            yield ctx.problem(rule, line, prefix + message, hint, level="error")
