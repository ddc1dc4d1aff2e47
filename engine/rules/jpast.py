"""The JMESPath AST toolbox: reading the parse trees of rule expressions.

The index, the guards, the lint checks and the compiler all reason about a rule's AST (which
``das.action`` it pins, which field paths it reads, what is falsy). They read it through these
helpers so that every room agrees on what a node means — and what a node means is what
jmespath's own interpreter does with it (``jmespath.visitor.TreeInterpreter``, version 1.x):
the property tests in ``tests/rules/test_jpast.py`` hold each helper to the interpreter.

Shared by every room of ``engine.rules``, so it imports nothing but jmespath and the stdlib.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jmespath.parser import ParsedResult

Node = Mapping[str, Any]
Path = tuple[str, ...]

# The field every DAS event carries its normalised action in: the first level of the index.
ACTION_PATH: Path = ("das", "action")


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a jmespath AST, depth first (slice bounds, which are not nodes, skipped)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if not isinstance(n, dict):
            continue
        yield n
        stack.extend(reversed(n.get("children") or []))


def original_ast(parsed: Any) -> dict[str, Any]:
    """The AST of a compiled expression (a ParsedResult) or of an AST itself."""
    if isinstance(parsed, ParsedResult):
        return parsed.parsed
    return parsed


# -- truthiness ---------------------------------------------------------------------------------


def is_falsy(value: Any) -> bool:
    """JMESPath falsiness: null, false, and the *empty* string, list and object.

    Not Python's: ``0`` and ``0.0`` are true in JMESPath. Written with ``is``/``==`` exactly as
    ``TreeInterpreter._is_false`` does (what ``&&``, ``||`` and filters use); ``!x`` agrees
    with it on every JSON value (jmespath special-cases ``!0`` to get there).
    """
    return value is None or value is False or value == "" or value == [] or value == {}


def is_truthy(value: Any) -> bool:
    """JMESPath truthiness: whether a ``when`` whose result is ``value`` matches."""
    return not is_falsy(value)


# -- field paths --------------------------------------------------------------------------------

# Node types that, evaluated on a value, only walk down it by field names (or stay on it).
_STAY = frozenset({"current", "identity"})
_CHAIN = frozenset({"subexpression", "pipe"})


def _steps(node: Node) -> Path | None:
    kind = node.get("type")
    if kind == "field":
        return (node["value"],)
    if kind in _STAY:
        return ()
    if kind in _CHAIN:  # each child evaluated on the previous child's result
        out: list[str] = []
        for kid in node.get("children") or []:
            sub = _steps(kid)
            if sub is None:
                return None
            out.extend(sub)
        return tuple(out)
    return None


def field_path(node: Node) -> Path | None:
    """The field names ``node`` reads, when reading them is *all* it does; else None.

    ``das.action`` → ("das", "action"); ``exitCode`` → ("exitCode",); ``@.das.action`` and
    ``das | action`` → ("das", "action") too (``@`` stays put, a pipe chains like ``.``).
    ``a.b[0]``, ``a[*].b``, ``f(a).b``, ``!a.b`` → None: the node's value is not a field's.
    ``@`` alone → None (it reads no field). Whenever this returns a path, the interpreter's
    value for the node is ``read_path(input, path)``.
    """
    steps = _steps(node)
    return steps or None


def read_path(value: Any, path: Sequence[str]) -> Any:
    """What the interpreter returns for a field path: ``.get`` down, null when it cannot."""
    for name in path:
        try:
            value = value.get(name)
        except AttributeError:  # a string, a number, a list, null: no fields
            return None
    return value


def is_action_path(node: Node) -> bool:
    """Whether ``node`` is the value of ``das.action`` (however it is written)."""
    return field_path(node) == ACTION_PATH


# -- literals -----------------------------------------------------------------------------------


def is_literal(node: Node) -> bool:
    """A literal (``'text'``, a backtick JSON value, ``null`` included)."""
    return node.get("type") == "literal"


def literal_value(node: Node) -> Any:
    """The value of a literal node; None when ``node`` is not one (``is_literal`` tells)."""
    return node.get("value") if node.get("type") == "literal" else None


def literal_str(node: Node) -> str | None:
    """The text of a string literal; None for anything else."""
    value = literal_value(node)
    return value if isinstance(value, str) else None


def literal_scalar(node: Node) -> str | int | float | None:
    """A string or number literal (not a boolean, not null): a value a table can be keyed by.

    Python's ``==`` (what jmespath's ``==`` and ``contains`` use) agrees with dict lookup on
    these, ``1 == 1.0`` included; ``true == 1`` is where it would not, hence no booleans.
    """
    value = literal_value(node)
    if isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return None


def literal_list(node: Node) -> list[Any] | None:
    """The values of a literal list (``['A','B']`` or a JSON literal); None if not one.

    A ``multi_select_list`` is a list only when evaluated on a non-null value — always the case
    on an event, which is an object.
    """
    if node.get("type") == "literal" and isinstance(node.get("value"), list):
        return list(node["value"])
    if node.get("type") == "multi_select_list":
        kids = node.get("children") or []
        if not all(k.get("type") == "literal" for k in kids):
            return None
        return [k.get("value") for k in kids]
    return None


# -- the shapes the index, guards and lint look for --------------------------------------------


def compared_paths(node: Node) -> list[tuple[Path, Node]]:
    """For a comparison, each side that is a field path, with the other side's node.

    ``das.action == 'DDL'`` → [(("das", "action"), <'DDL'>)]; either order; [] for anything
    that is not a comparator. The operator is ``node["value"]`` (eq, ne, lt, lte, gt, gte).
    """
    kids = node.get("children") or []
    if node.get("type") != "comparator" or len(kids) != 2:
        return []
    out = []
    for side, other in ((kids[0], kids[1]), (kids[1], kids[0])):
        path = field_path(side)
        if path is not None:
            out.append((path, other))
    return out


def contains_path(node: Node) -> tuple[list[Any], Path] | None:
    """``contains(<literal list>, <field path>)`` → (the list, the path); else None."""
    kids = node.get("children") or []
    if (
        node.get("type") != "function_expression"
        or node.get("value") != "contains"
        or len(kids) != 2
    ):
        return None
    values, path = literal_list(kids[0]), field_path(kids[1])
    if values is None or path is None:
        return None
    return values, path


# -- scopes -------------------------------------------------------------------------------------

# children[0] is evaluated on the node's input; the others on each element of its result
_PROJECTIONS = frozenset({"projection", "value_projection", "filter_projection"})


def _join(base: Path | None, steps: Path | None) -> Path | None:
    return None if base is None or steps is None else base + steps


def scoped(ast: Node, base: Path | None = ()) -> Iterator[tuple[Node, Path | None]]:
    """Every node with the field path of the value it is evaluated on.

    ``()`` is the event itself; ``("das",)`` the event's ``das`` object; None a value that is
    not a field of the event (an element inside a projection or filter, an ``&expref``'s
    argument, a function's result, a literal). So ``das.action`` inside
    ``objects[?das.action == 'x']`` is an element's field, not the event's.
    """
    stack: list[tuple[Node, Path | None]] = [(ast, base)]
    while stack:
        node, at = stack.pop()
        if not isinstance(node, Mapping):
            continue
        yield node, at
        kind = node.get("type")
        kids = [k for k in node.get("children") or [] if isinstance(k, Mapping)]
        if not kids:
            continue
        if kind in _CHAIN or kind == "index_expression":  # each kid on the previous result
            todo: list[tuple[Node, Path | None]] = []
            here = at
            for kid in kids:
                todo.append((kid, here))
                here = _join(here, _steps(kid))
        elif kind in _PROJECTIONS:
            todo = [(kids[0], at)] + [(k, None) for k in kids[1:]]
        elif kind == "expref":
            todo = [(k, None) for k in kids]
        else:  # operators, function arguments, multi-selects, flatten: on the same input
            todo = [(k, at) for k in kids]
        stack.extend(reversed(todo))


def event_paths(ast: Node) -> list[Path]:
    """The event fields ``ast`` reads: the longest field paths, in order, once each.

    ``das.action == 'DDL' && dbUserName`` → [("das", "action"), ("dbUserName",)];
    ``das.objects[0].name`` → [("das", "objects")]; fields of projected elements are not the
    event's. A path that only leads to a longer one (``das`` of ``das.action``) is left out.
    """
    seen: dict[Path, None] = {}
    for node, at in scoped(ast):
        if at is not None and node.get("type") == "field":
            seen[(*at, node["value"])] = None
    paths = list(seen)
    return [p for p in paths if not any(len(q) > len(p) and q[: len(p)] == p for q in paths)]


def reads_event(ast: Node) -> bool:
    """Whether ``ast``'s value depends on the event at all (a field, ``@``, ``[*]`` of it)."""
    return any(
        at is not None and node.get("type") in ("field", "current", "identity")
        for node, at in scoped(ast)
    )


# -- source text -------------------------------------------------------------------------------
# The AST keeps no positions, so what ``dasalert test --explain`` and ``dasalert jp --rule`` print
# for an operand is the operand written back: ``unparse(parse(s))`` parses to the same tree as
# ``s`` (property tests in tests/rules/test_jptext.py hold it to that), in the house style of
# rules: strings in single quotes, JSON in backticks.

_COMPARATORS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "lte": "<=", "gte": ">="}
_LOW = frozenset({"comparator", "and_expression", "or_expression", "pipe"})
_IDENT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"


def _name(text: str) -> str:
    if text and not text[0].isdigit() and all(c in _IDENT_CHARS for c in text):
        return text
    return _json.dumps(text)


def _literal(value: Any) -> str:
    if isinstance(value, str) and "\\" not in value:
        return "'" + value.replace("'", "\\'") + "'"
    return "`" + _json.dumps(value, ensure_ascii=False).replace("`", "\\`") + "`"


def _wrap(node: Node, low: frozenset[str] = _LOW) -> str:
    text = unparse(node)
    return f"({text})" if node.get("type") in low else text


def _then(node: Node) -> str:
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


def unparse(node: Node) -> str:
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


def operands(node: Node) -> tuple[str | None, list[Node]]:
    """``a && b && c`` → ("&&", [a, b, c]); any other node → (None, [node]).

    jmespath nests a chain of one operator to the left (``(a && b) && c``); an explanation lists
    the chain flat, as the author wrote it, and descends into an operand of the other operator.
    """
    kind = node.get("type")
    if kind not in ("and_expression", "or_expression"):
        return None, [node]
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if n.get("type") == kind:
            stack.extend(reversed(n.get("children") or []))
        else:
            out.append(n)
    return ("&&" if kind == "and_expression" else "||"), out
