"""Guards: a field value a rule needs before it can match, for the second level of the index.

The first level of the index is ``das.action`` (``engine.rules.runtime.index``). In a large
pack most rules also pin another field — ``dbUserName == 'mallory'``, ``das.object == 'payroll'``,
``in_list_ci(dbUserName, 'departed')`` — so within one action bucket the rule set can look the
event's value up in a table instead of running every such rule. A guard is a *necessary*
condition derived from the ``when`` AST, conservatively, like the action index:

* ``a && b`` needs both sides: either side's guards are guards of the whole;
* ``path == 'x'`` / ``path == `1``` needs the field to equal the literal;
* ``contains(<literal list>, path)`` needs the field to be one of the literals;
* ``in_list(path, 'name')`` needs the field in the named list, ``in_list_ci`` the case-folded
  field in the case-folded list;
* anything else (``||``, ``!``, other functions) gives no guard: the rule is always evaluated.

Soundness is the whole point: a table lookup may let a rule through that then does not match,
never skip one that would. Python's ``==`` and ``in`` (what jmespath uses for ``==`` and
``contains``) agree with dict lookup, including ``1 == 1.0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.rules.jpast import (
    Path,
    compared_paths,
    contains_path,
    field_path,
    literal_scalar,
    literal_str,
)


@dataclass(frozen=True)
class Guard:
    path: Path  # ("dbUserName",) or ("das", "object")
    values: frozenset[Any]
    casefold: bool = False  # compare ``value.casefold()`` (in_list_ci)


def _literal_set(values: list[Any]) -> frozenset[Any] | None:
    try:
        return frozenset(values)
    except TypeError:  # a list or object inside: not a set of scalars
        return None


def derive_guards(
    ast: Mapping[str, Any],
    lists: Mapping[str, frozenset[Any]],
    lists_ci: Mapping[str, frozenset[str]],
) -> list[Guard]:
    """Every guard ``ast`` implies (empty when none can be derived)."""
    kind = ast.get("type")
    kids = ast.get("children") or []
    if kind == "and_expression" and len(kids) == 2:
        return derive_guards(kids[0], lists, lists_ci) + derive_guards(kids[1], lists, lists_ci)
    if kind == "comparator" and ast.get("value") == "eq":
        for path, other in compared_paths(ast):
            value = literal_scalar(other)
            if value is not None:
                return [Guard(path, frozenset([value]))]
        return []
    pinned = contains_path(ast)
    if pinned is not None:
        values = _literal_set(pinned[0])
        return [] if values is None else [Guard(pinned[1], values)]
    name = ast.get("value")
    if kind == "function_expression" and name in ("in_list", "in_list_ci") and len(kids) == 2:
        listed, list_name = field_path(kids[0]), literal_str(kids[1])
        if listed is not None and list_name is not None:
            table = lists_ci if name == "in_list_ci" else lists
            if list_name in table:
                return [Guard(listed, table[list_name], casefold=name == "in_list_ci")]
    return []


def best_guard(guards: list[Guard], skip: frozenset[Path] = frozenset()) -> Guard | None:
    """The most selective guard (fewest values), ignoring paths another index level covers."""
    usable = [g for g in guards if g.path not in skip and g.values]
    return min(usable, key=lambda g: len(g.values), default=None)
