"""JMESPath source text of AST nodes, and the operands of an ``&&``/``||`` chain.

Part of the AST toolbox of ``engine.rules.jpast`` (kept in its own module while that one is being
consolidated): the AST keeps no positions, so what ``dasalert test --explain`` and
``dasalert jp --rule`` print for an operand is the operand written back. ``unparse(parse(s))``
parses to the same tree as ``s`` (property tests hold it to that), in the house style of rules:
strings in single quotes, JSON in backticks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_COMPARATORS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "lte": "<=", "gte": ">="}
_LOW = frozenset({"comparator", "and_expression", "or_expression", "pipe"})
_IDENT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"


def _name(text: str) -> str:
    if text and not text[0].isdigit() and all(c in _IDENT_CHARS for c in text):
        return text
    return json.dumps(text)


def _literal(value: Any) -> str:
    if isinstance(value, str) and "\\" not in value:
        return "'" + value.replace("'", "\\'") + "'"
    return "`" + json.dumps(value, ensure_ascii=False).replace("`", "\\`") + "`"


def _wrap(node: Mapping[str, Any], low: frozenset[str] = _LOW) -> str:
    text = unparse(node)
    return f"({text})" if node.get("type") in low else text


def _then(node: Mapping[str, Any]) -> str:
    """The right-hand side of a projection, joined to what precedes it (``[0]`` or ``.b``)."""
    if node.get("type") == "identity":
        return ""
    text = _wrap(node)
    bracket = text.startswith("[") and node.get("type") not in ("multi_select_list",)
    return text if bracket else "." + text


# what `!` can precede without parentheses (anything else would be read as `(!x).rest`)
_TIGHT = frozenset(
    {"field", "literal", "function_expression", "current", "identity", "not_expression"}
    | {"multi_select_list", "multi_select_dict"}
)


def unparse(node: Mapping[str, Any]) -> str:
    """JMESPath source for an AST node (the text an explanation shows for an operand)."""
    kind = node.get("type")
    kids: list[Any] = node.get("children") or []
    if kind == "field":
        return _name(node["value"])
    if kind == "literal":
        return _literal(node.get("value"))
    if kind in ("current", "identity"):
        return "@"
    if kind == "subexpression":
        return _wrap(kids[0]) + "".join("." + _wrap(k) for k in kids[1:])
    if kind == "comparator":
        return f"{_wrap(kids[0])} {_COMPARATORS[node['value']]} {_wrap(kids[1])}"
    if kind in ("and_expression", "or_expression"):
        op = "&&" if kind == "and_expression" else "||"
        left_low = {"pipe"} | ({"or_expression"} if kind == "and_expression" else set())
        right_low = left_low | {kind}
        return f"{_wrap(kids[0], frozenset(left_low))} {op} {_wrap(kids[1], frozenset(right_low))}"
    if kind == "not_expression":
        text = unparse(kids[0])
        return "!" + (text if kids[0].get("type") in _TIGHT else f"({text})")
    if kind == "pipe":
        return f"{unparse(kids[0])} | {_wrap(kids[1], frozenset({'pipe'}))}"
    if kind == "function_expression":
        return f"{node['value']}({', '.join(unparse(k) for k in kids)})"
    if kind == "expref":
        return "&" + unparse(kids[0])
    if kind == "multi_select_list":
        return "[" + ", ".join(unparse(k) for k in kids) + "]"
    if kind == "multi_select_dict":
        pairs = (f"{_name(k['value'])}: {unparse(k['children'][0])}" for k in kids)
        return "{" + ", ".join(pairs) + "}"
    if kind == "index":
        return f"[{node['value']}]"
    if kind == "slice":
        parts = ["" if v is None else str(v) for v in kids]
        return "[" + ":".join(parts if parts[2] else parts[:2]) + "]"
    if kind == "index_expression":
        left = "" if kids[0].get("type") in ("identity", "current") else _wrap(kids[0])
        return left + "".join(unparse(k) for k in kids[1:])
    if kind == "flatten":
        return _wrap(kids[0]) + "[]"
    if kind == "projection":
        left = _wrap(kids[0])
        implicit = kids[0].get("type") == "flatten" or (
            kids[0].get("type") == "index_expression"
            and (kids[0].get("children") or [{}])[-1].get("type") == "slice"
        )
        return left + ("" if implicit else "[*]") + _then(kids[1])
    if kind == "value_projection":
        return _wrap(kids[0]) + ".*" + _then(kids[1])
    if kind == "filter_projection":
        return f"{_wrap(kids[0])}[?{unparse(kids[2])}]" + _then(kids[1])
    return f"<{kind}>"  # a node type this jmespath version does not produce


def operands(node: Mapping[str, Any]) -> tuple[str | None, list[Mapping[str, Any]]]:
    """``a && b && c`` → ("&&", [a, b, c]); any other node → (None, [node]).

    jmespath nests a chain of one operator to the left (``(a && b) && c``); an explanation lists
    the chain flat, as the author wrote it, and descends into an operand of the other operator.
    """
    kind = node.get("type")
    if kind not in ("and_expression", "or_expression"):
        return None, [node]
    out: list[Mapping[str, Any]] = []
    stack: list[Mapping[str, Any]] = [node]
    while stack:
        n = stack.pop()
        if n.get("type") == kind:
            stack.extend(reversed(n.get("children") or []))
        else:
            out.append(n)
    return ("&&" if kind == "and_expression" else "||"), out
