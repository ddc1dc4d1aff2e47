"""The evaluation index: which ``das.action`` values a rule's ``when`` can possibly match.

Derived from the JMESPath AST, conservatively. A rule whose predicate pins ``das.action``
(``das.action == 'DDL'``, ``contains(['LOGIN_FAILED', 'CONNECT'], das.action)``) is only
evaluated on events with those actions; anything the analysis does not understand yields None
("any action"). Soundness is the whole point — the index may keep a rule on events it cannot
match, never drop it from one it can — so every rule below says why it holds under JMESPath
truthiness:

* ``a && b`` is truthy only when both are: intersect.
* ``a || b`` is truthy when either is: union (None if either side is unknown).
* ``das.action == 'X'`` is true only when the action is ``'X'`` (``@.das.action`` and
  ``das | action`` are the same field: ``jpast.field_path``).
* ``contains(<literal strings>, das.action)`` is true only for those strings.
* everything else (``!``, ``!=``, ``in_list``, pipes, filters…): unknown.
"""

from __future__ import annotations

from typing import Any

from engine.rules.jpast import (
    ACTION_PATH,
    compared_paths,
    contains_path,
    literal_str,
)

Actions = frozenset[str] | None


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
    if kind == "comparator" and ast.get("value") == "eq":
        for path, other in compared_paths(ast):
            value = literal_str(other)
            if path == ACTION_PATH and value is not None:
                return frozenset([value])
        return None
    pinned = contains_path(ast)
    if pinned is not None:
        values, path = pinned
        if path == ACTION_PATH and all(isinstance(v, str) for v in values):
            return frozenset(values)
    return None
