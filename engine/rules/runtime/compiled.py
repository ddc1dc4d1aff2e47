"""Rule expressions compiled into nested Python closures: the hot path of ``RuleSet``.

The node types rules are made of (fields, literals, comparisons, ``&&``/``||``/``!``, function
calls) become direct calls; everything else (projections, filters, pipes, slices…) delegates
that subtree to the interpreter. Same results as the interpreter, value for value (a
differential property test holds us to it), at a fraction of the dispatch cost. A node type is
compiled only while the interpreter's method for it is the one copied here, so an interpreter
that overrides a method is never silently bypassed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from jmespath.exceptions import JMESPathTypeError
from jmespath.functions import Functions
from jmespath.visitor import TreeInterpreter, _equals, _is_actual_number

from engine.rules.jpast import (
    ACTION_PATH,
    compared_paths,
    contains_path,
    field_path,
    literal_list,
    literal_str,
    walk,
)
from engine.rules.runtime.functions import (
    REGEX_TIMED_FROM_CHARS,
    DasFunctions,
    ascii_fold,
    compile_regex,
    is_aws_internal_user,
    timed_search,
)
from engine.rules.runtime.interpreter import SafeInterpreter

Fn = Callable[[Any], Any]
_ORDERING = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}


def _get(value: Any, name: str) -> Any:
    try:
        return value.get(name)
    except AttributeError:
        return None


# node type -> the interpreter method whose behaviour the compiled form copies
_COPIED = {
    "field": "visit_field",
    "subexpression": "visit_subexpression",
    "pipe": "visit_pipe",
    "identity": "visit_identity",
    "literal": "visit_literal",
    "current": "visit_current",
    "and_expression": "visit_and_expression",
    "or_expression": "visit_or_expression",
    "not_expression": "visit_not_expression",
    "comparator": "visit_comparator",
    "function_expression": "visit_function_expression",
    "multi_select_list": "visit_multi_select_list",
}


_KINDS: dict[type, frozenset[str]] = {}


def _copied_kinds(cls: type) -> frozenset[str]:
    """The node types whose interpreter methods are the ones copied here (not overridden)."""
    kinds = _KINDS.get(cls)
    if kinds is None:
        reference = {k: getattr(TreeInterpreter, m) for k, m in _COPIED.items()}
        reference["comparator"] = SafeInterpreter.visit_comparator
        kinds = frozenset(k for k, m in _COPIED.items() if getattr(cls, m, None) is reference[k])
        _KINDS[cls] = kinds
    return kinds


def compile_node(node: dict[str, Any], interp: SafeInterpreter) -> Fn:
    """A closure computing exactly what ``interp.visit(node, value)`` computes.

    Only node types whose semantics are copied here are compiled; any other subtree is handed
    to the interpreter, so an unusual expression is never evaluated differently, only slower.
    """
    kind = node.get("type")
    kids = node.get("children") or []
    copied = _copied_kinds(type(interp))
    if kind not in copied:
        visit = interp.visit
        return lambda v: visit(node, v)
    if kind == "field":
        name = node["value"]
        return lambda v: v.get(name) if type(v) is dict else _get(v, name)
    path_names = field_path(node)
    if path_names is not None and all(n.get("type") in copied for n in walk(node)):
        # a.b, @.a.b, a | b: only field reads (jpast.field_path), compiled as one path
        names = path_names
        if len(names) == 1:
            (only,) = names
            return lambda v: v.get(only) if type(v) is dict else _get(v, only)
        if len(names) == 2:
            first, second = names

            def path2(v: Any) -> Any:
                v = v.get(first) if type(v) is dict else _get(v, first)
                return v.get(second) if type(v) is dict else _get(v, second)

            return path2

        def path(v: Any) -> Any:
            for name in names:
                v = v.get(name) if type(v) is dict else _get(v, name)
            return v

        return path
    if kind == "literal":
        literal = node["value"]
        return lambda v: literal
    if kind == "current":
        return lambda v: v
    if kind in ("and_expression", "or_expression"):
        # `a && b && c` is one loop, not nested calls: the first falsy operand or the last
        # one (`a || b || c`: the first truthy or the last), whichever way it is nested
        nodes = _operands(node, kind)
        if kind == "and_expression":
            # `true && x` is x: an operand ``pin_action`` settled to true is dropped
            nodes = [k for k in nodes[:-1] if not _is_true_literal(k)] + nodes[-1:]
            if len(nodes) == 1:
                return compile_node(nodes[0], interp)
        operands = [compile_node(k, interp) for k in nodes]
        head, last = tuple(operands[:-1]), operands[-1]
        if kind == "and_expression":

            def and_(v: Any) -> Any:
                for operand in head:
                    matched = operand(v)
                    if matched is True:
                        continue
                    if (
                        matched is None
                        or matched is False
                        or matched == ""
                        or matched == []
                        or matched == {}
                    ):
                        return matched
                return last(v)

            return and_

        def or_(v: Any) -> Any:
            for operand in head:
                matched = operand(v)
                if matched is None or matched is False:
                    continue
                if not (matched == "" or matched == [] or matched == {}):
                    return matched
            return last(v)

        return or_
    if kind == "not_expression":
        fused = _special(interp, kids[0], negate=True)
        if fused is not None:
            return fused
        inner = compile_node(kids[0], interp)

        def not_(v: Any) -> Any:
            result = inner(v)
            if result is True:
                return False
            if result is False or result is None:
                return True
            if _is_actual_number(result) and result == 0:
                return False  # !0 is false: 0 is not special in JMESPath
            return not result

        return not_
    if kind == "comparator":
        comparator = _compile_comparator(node, interp)
        if comparator is not None:
            return comparator
    if kind == "multi_select_list":
        # `['READ', 'WRITE']` in `contains([…], das.action)`: a list of literals is one fresh
        # list per event; null in, null out, as jmespath does
        if all(k.get("type") == "literal" for k in kids):
            items = [k["value"] for k in kids]
            return lambda v: None if v is None else list(items)
        parts = [compile_node(k, interp) for k in kids]
        return lambda v: None if v is None else [p(v) for p in parts]
    if kind == "function_expression":
        fname = node["value"]
        args = [compile_node(k, interp) for k in kids]
        call = interp._functions.call_function
        if kids and all(k.get("type") == "literal" for k in kids):
            # `param('large_read_rows')`: every function we have is pure and the rule set's
            # lists and params never change, so a call on literals is a constant. Fold it
            # (unless it raises: then it raises per event, as interpreted).
            try:
                constant = call(fname, [k["value"] for k in kids])
            except Exception:
                pass
            else:
                return lambda v: constant
        special = _special(interp, node)
        if special is not None:
            return special
        direct = _direct(interp, fname, len(args))
        if direct is not None:
            if len(args) == 1:
                (d0,) = args
                return lambda v: direct(d0(v))
            if len(args) == 2:
                d0, d1 = args
                return lambda v: direct(d0(v), d1(v))
        if len(args) == 1:
            (a0,) = args
            return lambda v: call(fname, [a0(v)])
        if len(args) == 2:
            a0, a1 = args
            return lambda v: call(fname, [a0(v), a1(v)])
        return lambda v: call(fname, [a(v) for a in args])
    visit = interp.visit
    return lambda v: visit(node, v)


def _is_true_literal(node: dict[str, Any]) -> bool:
    return node.get("type") == "literal" and node.get("value") is True


def pin_action(ast: dict[str, Any], action: str) -> dict[str, Any]:
    """``ast`` for events whose ``das.action`` is the string ``action``: its top-level tests of
    the action settled.

    The index already sent the event to the bucket of its action, so in a rule like
    ``contains(['READ', 'WRITE'], das.action) && …`` the first operand is known there: it
    becomes the literal it would evaluate to (``true``), and the compiler drops a true operand
    of ``&&``. Only operands of the top-level ``&&`` chain are settled: they are evaluated on
    the event itself, whose action is known; the same test inside a filter or projection reads
    another value and is left alone. Returns ``ast`` itself when nothing was settled.
    """
    if ast.get("type") != "and_expression":
        return ast
    operands = _operands(ast, "and_expression")
    settled = [_settle(k, action) for k in operands]
    if all(new is old for new, old in zip(settled, operands, strict=True)):
        return ast
    out = settled[0]
    for right in settled[1:]:
        out = {"type": "and_expression", "children": [out, right]}
    return out


def _settle(node: dict[str, Any], action: str) -> dict[str, Any]:
    """The literal a test of ``das.action`` gives for ``action``, else ``node`` itself."""
    pinned = contains_path(node)
    if pinned is not None and pinned[1] == ACTION_PATH:
        return {"type": "literal", "value": action in pinned[0]}
    if node.get("type") == "comparator" and node.get("value") in ("eq", "ne"):
        for path, other in compared_paths(node):
            literal = literal_str(other)
            if path == ACTION_PATH and literal is not None:
                equal = action == literal
                return {"type": "literal", "value": equal if node["value"] == "eq" else not equal}
    return node


def _operands(node: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The operands of a chain of one operator, left to right: ``(a && b) && c`` → a, b, c."""
    out: list[dict[str, Any]] = []
    for kid in node.get("children") or []:
        if kid.get("type") == kind:
            out.extend(_operands(kid, kind))
        else:
            out.append(kid)
    return out


def _special(interp: SafeInterpreter, node: dict[str, Any], negate: bool = False) -> Fn | None:
    """One closure for the calls the shipped pack makes on nearly every event.

    * ``contains(['READ', 'WRITE'], das.action)``: a set lookup instead of jmespath's typed
      call (argument type checks per event) and a fresh list per event;
    * ``cidr_match(das.sourceHost, 'internal_nets')``: ``DasFunctions.cidr_matcher``, the
      networks resolved once and dotted quads tested with integers;
    * ``in_list``/``in_list_ci`` on a named list, ``aws_internal_user(@)``, ``matches`` and
      ``imatches`` on a literal pattern: the function's body with its constants (the set, the
      compiled regex) resolved once, and ``!`` folded in (``negate``) — each returns a
      boolean, so ``!`` is Python's ``not``.

    Each copies ``DasFunctions``' method of that name (tests hold them together), and only
    while the method is that one: a subclass that overrides it keeps the generic call. A
    ``[…]`` of literals is null on a null input, as jmespath has it. None: no special form.
    """
    functions = getattr(interp, "_functions", None)
    kids = node.get("children") or []
    if (
        node.get("type") != "function_expression"
        or "function_expression" not in _copied_kinds(type(interp))
        or not isinstance(functions, DasFunctions)
        or not kids
        or all(k.get("type") == "literal" for k in kids)  # folded into a constant instead
    ):
        return None
    fname = node["value"]
    entry = type(functions).FUNCTION_TABLE.get(fname)
    if entry is None or entry["function"] is not _COPIED_FUNCTIONS.get(fname):
        return None
    fn: Fn | None = None
    if fname == "aws_internal_user" and len(kids) == 1:
        fn = _aws_internal_user(compile_node(kids[0], interp), negate)
    elif len(kids) != 2:
        return None
    elif fname == "contains":
        fn = _contains(kids, compile_node(kids[1], interp))
    elif fname == "cidr_match":
        fn = _cidr_match(functions, kids, compile_node(kids[0], interp))
    elif fname in ("in_list", "in_list_ci"):
        name = literal_str(kids[1])
        if name is None:
            return None
        arg = compile_node(kids[0], interp)
        if fname == "in_list":
            fn = _in_list(arg, functions.lists.get(name, frozenset()), negate)
        else:
            fn = _in_list_ci(arg, functions._lists_ci.get(name, frozenset()), negate)
    elif fname in ("matches", "imatches"):
        pattern = literal_str(kids[1])
        if pattern is None:
            return None
        try:
            regex = compile_regex(pattern, fname == "imatches")
        except re.error:
            return None  # the function answers false per event: keep its generic call
        fn = _matches(compile_node(kids[0], interp), regex, negate)
    if fn is None or not negate or fname in _NEGATED_INSIDE:
        return fn
    positive = fn
    return lambda v: not positive(v)  # contains/cidr_match give a boolean or null


_NEGATED_INSIDE = frozenset({"aws_internal_user", "in_list", "in_list_ci", "matches", "imatches"})
_COPIED_FUNCTIONS: dict[str, Any] = {
    "contains": Functions._func_contains,
    "cidr_match": DasFunctions._func_cidr_match,
    "in_list": DasFunctions._func_in_list,
    "in_list_ci": DasFunctions._func_in_list_ci,
    "aws_internal_user": DasFunctions._func_aws_internal_user,
    "matches": DasFunctions._func_matches,
    "imatches": DasFunctions._func_imatches,
}


def _contains(kids: list[dict[str, Any]], search: Fn) -> Fn | None:
    values = literal_list(kids[0])
    if values is None:
        return None
    try:
        members = frozenset(values)
    except TypeError:  # a list or object among the values: the generic call
        return None
    on_null = kids[0].get("type") == "multi_select_list"

    def contains(v: Any) -> Any:
        if on_null and v is None:
            return None  # contains(null, …): a type error, null in our functions
        found = search(v)
        try:
            return found in members
        except TypeError:  # an unhashable value: equal to no scalar, search the list
            return found in values

    return contains


def _cidr_match(functions: DasFunctions, kids: list[dict[str, Any]], address: Fn) -> Fn | None:
    text = literal_str(kids[1])
    spec: Any = text if text is not None else literal_list(kids[1])
    if spec is None:
        return None
    match = functions.cidr_matcher(spec)
    slow = functions._func_cidr_match
    on_null = kids[1].get("type") == "multi_select_list"

    def cidr(v: Any) -> Any:
        if on_null and v is None:
            return slow(address(v), None)
        return match(address(v))

    return cidr


def _in_list(arg: Fn, members: frozenset[Any], negate: bool) -> Fn:
    def in_list(v: Any) -> bool:
        value = arg(v)
        if type(value) is str or (
            isinstance(value, str | int | float) and not isinstance(value, bool)
        ):
            return (value in members) is not negate
        return negate

    return in_list


def _in_list_ci(arg: Fn, members: frozenset[str], negate: bool) -> Fn:
    def in_list_ci(v: Any) -> bool:
        value = arg(v)
        if isinstance(value, str):
            return (ascii_fold(value) in members) is not negate
        return negate

    return in_list_ci


def _aws_internal_user(arg: Fn, negate: bool) -> Fn:
    def aws_internal_user(v: Any) -> bool:
        return is_aws_internal_user(arg(v)) is not negate

    return aws_internal_user


def _matches(arg: Fn, regex: re.Pattern[str], negate: bool) -> Fn:
    search = regex.search

    def matches(v: Any) -> bool:
        value = arg(v)
        if not isinstance(value, str):
            return negate
        if len(value) < REGEX_TIMED_FROM_CHARS:  # short: no timer (``_timed``'s own shortcut)
            return (search(value) is not None) is not negate
        return timed_search(regex, value) is not negate

    return matches


def _direct(interp: SafeInterpreter, fname: str, arity: int) -> Callable[..., Any] | None:
    """A function whose arguments jmespath would not type-check, called without the checks.

    Most of dasalert's functions take any value and are total on their own (``in_list``,
    ``aws_internal_user``, ``cidr_match``…): jmespath's ``call_function`` only looks the name up
    and counts the arguments, per event. The loader already checked name and arity, so the
    compiled rule calls the method itself — with the one thing ``DasFunctions.call_function``
    adds, a type error becoming null. Typed or variadic signatures keep the generic path.
    """
    functions = getattr(interp, "_functions", None)
    spec = getattr(functions, "FUNCTION_TABLE", {}).get(fname)
    if spec is None:
        return None
    signature = spec.get("signature") or []
    if len(signature) != arity or any(s.get("variadic") or s.get("types") for s in signature):
        return None
    method = spec["function"]

    def direct(*args: Any) -> Any:
        try:
            return method(functions, *args)
        except JMESPathTypeError:
            return None

    return direct


def _compile_comparator(node: dict[str, Any], interp: SafeInterpreter) -> Fn | None:
    op = node["value"]
    left_node, right_node = node["children"]
    left, right = compile_node(left_node, interp), compile_node(right_node, interp)
    if op in ("eq", "ne"):
        lit = literal_str(right_node)
        if lit is not None:  # `x == 'DDL'`: the 0/1-versus-bool special case cannot apply
            if op == "ne":
                return lambda v: left(v) != lit
            return lambda v: left(v) == lit
        if op == "ne":
            return lambda v: not _equals(left(v), right(v))
        return lambda v: _equals(left(v), right(v))
    fn = _ORDERING.get(op)
    if fn is None:
        return None

    def ordering(v: Any) -> Any:
        # SafeInterpreter: numbers with numbers, strings with strings, anything else null
        a, b = left(v), right(v)
        if (
            isinstance(a, int | float)
            and not isinstance(a, bool)
            and isinstance(b, int | float)
            and not isinstance(b, bool)
        ) or (isinstance(a, str) and isinstance(b, str)):
            return fn(a, b)
        return None

    return ordering
