"""The JMESPath interpreter of rule expressions: jmespath's, made total on mixed-type ordering.

This is the runtime half of what used to be one module with the compiler: the RuleSet and every
compiled ``Expr`` evaluate through ``SafeInterpreter``; the language room (``engine.rules.lang``)
parses and checks expressions and builds ``SafeParsed`` objects from here.
"""

from __future__ import annotations

import operator
from typing import Any

from jmespath.parser import ParsedResult
from jmespath.visitor import TreeInterpreter


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_ORDER = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}


class SafeInterpreter(TreeInterpreter):
    """jmespath's interpreter, except that ``<`` ``<=`` ``>`` ``>=`` on mixed types give null.

    jmespath 1.x raises ``TypeError`` for ``'3' < `5``` (it lets strings through its
    comparability test, then Python refuses). DAS sends ``exitCode`` as a string on MySQL and a
    number elsewhere, so a rule must get "no match" there, not an error. Build one per rule set
    (it holds the Options) and reuse it: it keeps no per-event state.
    """

    def visit_comparator(self, node: dict[str, Any], value: Any) -> Any:
        op = node["value"]
        kids = node["children"]
        left = self.visit(kids[0], value)
        right = self.visit(kids[1], value)
        if op == "eq" or op == "ne":
            # jmespath's equality, inlined (this is the hottest node of most rules): Python's
            # `1 == True` must not hold, across types everything else is plainly unequal.
            eq = left == right
            if eq and (type(left) is bool) is not (type(right) is bool):
                eq = False
            return eq if op == "eq" else not eq
        if (_is_num(left) and _is_num(right)) or (type(left) is str and type(right) is str):
            return _ORDER[op](left, right)
        return None


def make_interpreter(options: Any = None) -> SafeInterpreter:
    """The interpreter every evaluation of rule expressions should use."""
    return SafeInterpreter(options)


class SafeParsed(ParsedResult):
    """A compiled expression that evaluates with ``SafeInterpreter`` on ``search``.

    The interpreter is built once per Options object, not once per call as in ``ParsedResult``.
    """

    def __init__(self, expression: str, parsed: dict[str, Any]) -> None:
        super().__init__(expression, parsed)
        self._interp: tuple[Any, SafeInterpreter] | None = None

    def search(self, value: Any, options: Any = None) -> Any:
        cached = self._interp
        if cached is None or cached[0] is not options:
            cached = self._interp = (options, SafeInterpreter(options))
        return cached[1].visit(self.parsed, value)
