"""Comparing a field with a literal of the type it never has on some engine never matches.

The classic: ``exitCode == `0``` works on Oracle (a number) and silently never matches on
MySQL, which sends ``"0"``; ``exitCode < `5``` there is no match too (our interpreter turns
jmespath's TypeError into null). Evaluation survives it; the author should still know.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.rules.jpast import compared_paths, is_literal, literal_str, literal_value, scoped
from engine.rules.lang import schema as S
from engine.rules.lint import LintContext, check
from engine.rules.lint._fields import field_types
from engine.rules.model import Expr, Problem, Rule

_OPS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "lte": "<=", "gte": ">="}


def _literal(node: Mapping[str, Any], params: dict[str, Any]) -> tuple[bool, Any]:
    """A literal, or ``param('name')`` of a known param: a value known before any event."""
    if is_literal(node):
        return True, literal_value(node)
    if node.get("type") == "function_expression" and node.get("value") == "param":
        kids = node.get("children") or []
        name = literal_str(kids[0]) if len(kids) == 1 else None
        if name is not None and name in params:
            return True, params[name]
    return False, None


def _json_type(v: Any) -> str | None:
    if isinstance(v, bool):
        return S.BOOL
    if isinstance(v, int | float):
        return S.NUM
    if isinstance(v, str):
        return S.STR
    return None  # null, lists, objects: not this check's business


def _show(v: Any) -> str:
    if isinstance(v, str):
        return f"'{v}'"
    return f"`{str(v).lower() if isinstance(v, bool) else v}`"


def code(text: str) -> str:
    """Inline code that stays readable when it holds backticks (JMESPath literals do)."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _suggest(name: str, op: str, value: Any, lit_type: str, field_kinds: set[str]) -> str:
    """The fix. Never a text comparison for an ordering: text orders '9' after '100'."""
    if name == "exitCode":
        if str(value) == "0" and op in ("==", "!="):
            fix = "!(das.failed)" if op == "==" else "das.failed"
            return (
                f"write `{fix}`: `das.failed` is true when the statement or login failed, on "
                "every engine (SQL Server's exit code 1 means success)"
            )
        return "compare `das.errorCode`, the error code as text on every engine: " + code(
            f"das.errorCode {op} '{value}'"
        )
    if name == "das.failed":
        return "write `das.failed` or `!(das.failed)` (a boolean)"
    if lit_type == S.BOOL:
        return f"`{name}` is never a boolean: compare it with a value of its own type"
    if lit_type == S.NUM:
        return "convert the field: " + code(f"to_number({name}) {op} {_show(value)}")
    # a text literal where the field holds numbers
    if S.NUM in field_kinds and _numeric_text(value):
        return (
            "compare with a number (backticks): "
            + code(f"{name} {op} `{value}`")
            + " — text compares character by character ('9' > '100')"
        )
    if op in ("==", "!="):
        return "compare text with text: " + code(f"to_string({name}) {op} {_show(value)}")
    return f"`{name}` holds numbers here: compare it with a number in backticks"


def mismatches(expr: Expr, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(message, suggestion) for each comparison that cannot match on some engine."""
    for node, at in scoped(expr.compiled.parsed):
        if at is None:  # inside a filter or projection: an element's field, not the event's
            continue
        for relative, other in compared_paths(node):
            is_lit, value = _literal(other, params)
            if not is_lit:
                continue
            path = at + relative
            types = field_types(path)
            lit_type = _json_type(value)
            if types is None or lit_type is None:
                continue
            bad = sorted(e for e, t in types.items() if t != lit_type)
            if not bad:
                continue
            name, op = ".".join(path), _OPS[node["value"]]
            where = "on any engine" if len(bad) == len(types) else f"on {', '.join(bad)}"
            kinds = sorted({types[e] for e in bad})
            verdict = "is always true" if op == "!=" else "never matches"
            yield (
                f"{name} {op} {_show(value)} compares a {lit_type} with a field that is a "
                f"{'/'.join(kinds)} {where}: it {verdict} there",
                _suggest(name, op, value, lit_type, set(kinds)),
            )


@check("mixed-type-comparison")
def mixed_type_comparison(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    for message, suggestion in mismatches(rule.when, ctx.params):
        yield ctx.problem(rule, ctx.line(rule, "when"), message, suggestion)
    for ex in rule.unless:
        for message, suggestion in mismatches(ex.when, ctx.params):
            yield ctx.problem(rule, ex.line, f"unless: {message}", suggestion)
