"""The evaluation index: which ``das.action`` values a rule's ``when`` can possibly match.

Derived from the JMESPath AST, conservatively. A rule whose predicate pins ``das.action``
(``das.action == 'DDL'``, ``contains(['LOGIN_FAILED', 'CONNECT'], das.action)``) is only
evaluated on events with those actions; anything the analysis does not understand yields None
("any action"). Soundness is the whole point — the index may keep a rule on events it cannot
match, never drop it from one it can — so every rule below says why it holds under JMESPath
truthiness:

* ``a && b`` is truthy only when both are: intersect.
* ``a || b`` is truthy when either is: union (None if either side is unknown).
* ``das.action == 'X'`` is true only when the action is ``'X'``.
* ``contains(<literal strings>, das.action)`` is true only for those strings.
* everything else (``!``, ``!=``, ``in_list``, pipes, filters…): unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Actions = frozenset[str] | None

_ACTION_PATH = ("das", "action")


def _is_action_field(node: dict[str, Any]) -> bool:
    if node.get("type") != "subexpression":
        return False
    kids = node.get("children") or []
    return (
        len(kids) == 2
        and all(k.get("type") == "field" for k in kids)
        and (kids[0].get("value"), kids[1].get("value")) == _ACTION_PATH
    )


def literal_list(node: Mapping[str, Any]) -> list[Any] | None:
    """The values of a literal list (``['A','B']`` or a JSON literal); None if not one."""
    if node.get("type") == "literal" and isinstance(node.get("value"), list):
        return list(node["value"])
    if node.get("type") == "multi_select_list":
        kids = node.get("children") or []
        if not all(k.get("type") == "literal" for k in kids):
            return None
        return [k.get("value") for k in kids]
    return None


def _string_literals(node: dict[str, Any]) -> frozenset[str] | None:
    """The strings of a literal list; None if not a list of strings only."""
    values = literal_list(node)
    if values is None or not all(isinstance(v, str) for v in values):
        return None
    return frozenset(values)


def derive_actions(ast: dict[str, Any]) -> Actions:
    """The set of ``das.action`` values ``ast`` can be truthy for, or None for "any"."""
    kind = ast.get("type")
    kids = ast.get("children") or []
    if kind == "and_expression":
        left, right = derive_actions(kids[0]), derive_actions(kids[1])
        if left is None:
            return right
        if right is None:
            return left
        return left & right
    if kind == "or_expression":
        left, right = derive_actions(kids[0]), derive_actions(kids[1])
        if left is None or right is None:
            return None
        return left | right
    if kind == "comparator" and ast.get("value") == "eq" and len(kids) == 2:
        for field, other in ((kids[0], kids[1]), (kids[1], kids[0])):
            if (
                _is_action_field(field)
                and other.get("type") == "literal"
                and isinstance(other.get("value"), str)
            ):
                return frozenset([other["value"]])
        return None
    if kind == "function_expression" and ast.get("value") == "contains" and len(kids) == 2:
        if _is_action_field(kids[1]):
            return _string_literals(kids[0])
        return None
    return None
