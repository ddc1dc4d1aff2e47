"""The JMESPath AST toolbox against jmespath's own interpreter.

Every helper in ``engine.rules.jpast`` claims to know what a node does; these properties hold
each claim to what ``TreeInterpreter`` actually computes on generated events and expressions,
and pin the forms on which the former copies (index, guards, lint, compiler) disagreed.
"""

from __future__ import annotations

import json
from typing import Any

import jmespath
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jmespath import exceptions as jexc
from jmespath.visitor import TreeInterpreter

from engine.rules.jpast import (
    ACTION_PATH,
    compared_paths,
    contains_path,
    event_paths,
    field_path,
    is_action_path,
    is_falsy,
    is_literal,
    is_truthy,
    literal_list,
    literal_scalar,
    literal_str,
    literal_value,
    read_path,
    reads_event,
    scoped,
    walk,
)
from engine.rules.lang.expr import compile_expr
from engine.rules.lint.actions import _compared_actions
from engine.rules.lint.event_fields import unknown_fields
from engine.rules.lint.mixed_types import mismatches
from engine.rules.model import Rule
from engine.rules.runtime.compiled import compile_node
from engine.rules.runtime.functions import make_options
from engine.rules.runtime.guards import derive_guards
from engine.rules.runtime.index import derive_actions
from engine.rules.runtime.interpreter import SafeInterpreter
from engine.rules.runtime.ruleset import RuleSet

NAMES = ["das", "action", "a", "b"]
ACTIONS = ["DDL", "READ", "CONNECT"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.floats(allow_nan=False, allow_infinity=False, width=16)
    | st.sampled_from(["", "0", "x", "DDL", "READ"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["", *NAMES]), inner, max_size=3)
    ),
    max_leaves=12,
)
# events: objects whose fields are the names expressions use, nested, with values of any type
events = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=4).map(
    lambda d: {**d, "das": d.get("das", {"action": "DDL"})}
)

name = st.sampled_from(NAMES)
atoms = st.one_of(
    name,
    name,
    st.just("@"),
    st.sampled_from(
        ["'DDL'", "`0`", "`null`", '`["DDL", "x"]`', '`{"a": {"b": 1}}`', "['DDL', `1`]"]
    ),
)


def _grow(e: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(e, e)
    return st.one_of(
        st.tuples(e, name).map(lambda t: f"({t[0]}).{t[1]}"),
        st.tuples(e, name).map(lambda t: f"{t[0]}.{t[1]}" if t[0][0].isalpha() else t[1]),
        pair.map(lambda t: f"({t[0]}) | ({t[1]})"),
        st.tuples(name, e).map(lambda t: f"@.{t[0]}.{t[1]}" if t[1].isalpha() else f"@.{t[0]}"),
        e.map(lambda x: f"({x})[0]"),
        pair.map(lambda t: f"({t[0]})[*].{t[1]}" if t[1].isalpha() else f"({t[0]})[*]"),
        pair.map(lambda t: f"({t[0]})[?{t[1]}]"),
        e.map(lambda x: f"!({x})"),
        e.map(lambda x: f"!{x}"),
        pair.map(lambda t: f"({t[0]}) == ({t[1]})"),
        pair.map(lambda t: f"({t[0]}) && ({t[1]})"),
        pair.map(lambda t: f"({t[0]}) || ({t[1]})"),
        pair.map(lambda t: f"[{t[0]}, {t[1]}]"),
        pair.map(lambda t: f"{{k: {t[0]}, j: {t[1]}}}"),
        e.map(lambda x: f"({x})[]"),
        e.map(lambda x: f"({x}).*"),
        e.map(lambda x: f'contains(`["DDL"]`, {x})'),
    )


expressions = st.recursive(atoms, _grow, max_leaves=6)


def parse(src: str) -> dict[str, Any]:
    try:
        return jmespath.compile(src).parsed
    except jexc.JMESPathError:
        assume(False)
        raise  # unreachable


class Recording(TreeInterpreter):
    """jmespath's interpreter, noting the input each node was evaluated on."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[int, list[Any]] = {}

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(node, dict) and args:
            self.inputs.setdefault(id(node), []).append(args[0])
        return super().visit(node, *args, **kwargs)


def evaluate(ast: dict[str, Any], event: Any) -> tuple[Any, Recording]:
    interp = Recording()
    try:
        return interp.visit(ast, event), interp
    except (jexc.JMESPathError, TypeError):  # a function given the wrong type: not our case
        assume(False)
        raise


# -- the properties -----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(src=expressions, event=events)
def test_a_field_path_reads_exactly_what_the_interpreter_returns(src: str, event: dict) -> None:
    ast = parse(src)
    for node in walk(ast):
        path = field_path(node)
        if path is None:
            continue
        assert path, "a path names at least one field"
        result, _ = evaluate(node, event)
        assert result == read_path(event, path) and type(result) is type(read_path(event, path))
        assert is_action_path(node) == (path == ACTION_PATH)


@settings(max_examples=400, deadline=None)
@given(src=expressions, event=events)
def test_scoped_gives_the_input_the_interpreter_evaluates_each_node_on(
    src: str, event: dict
) -> None:
    ast = parse(src)
    _, interp = evaluate(ast, event)
    for node, at in scoped(ast):
        if at is None:
            continue
        for seen in interp.inputs.get(id(node), []):
            assert seen == read_path(event, at), (src, node, at)


@settings(max_examples=300, deadline=None)
@given(src=expressions, event=events)
def test_event_paths_cover_every_event_field_the_interpreter_reads(src: str, event: dict) -> None:
    """Each field node evaluated on the event (or a path of it) reads a prefix of a reported
    path; an expression with no such read gives the same result on any event."""
    ast = parse(src)
    paths = event_paths(ast)
    for node, at in scoped(ast):
        if at is not None and node.get("type") == "field":
            full = (*at, node["value"])
            assert any(p[: len(full)] == full for p in paths)
    if not reads_event(ast):
        assert evaluate(ast, event)[0] == evaluate(ast, {"das": {"action": "x"}})[0]


@settings(max_examples=500, deadline=None)
@given(value=json_values)
def test_falsiness_is_jmespaths(value: Any) -> None:
    interp = TreeInterpreter()
    negated = interp.visit({"type": "not_expression", "children": [_lit(value)]}, None)
    assert is_falsy(value) is negated is interp._is_false(value)
    assert is_truthy(value) is not is_falsy(value)
    # `&&` yields its left side when that is false; a filter keeps exactly the truthy elements
    assert (jmespath.search("@ && `true`", value) is True) is is_truthy(value)
    assert jmespath.search("[?@]", [value]) == ([value] if is_truthy(value) else [])


FIELD_RULES = RuleSet(
    [
        Rule(id="field", title="t", severity="low", when=compile_expr("a")),
        Rule(id="and", title="t", severity="low", when=compile_expr("a && `true`")),
    ]
)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_the_rule_set_matches_exactly_the_truthy_values(value: Any) -> None:
    """The rule set's hot loop inlines ``is_falsy``: it must still be the same test."""
    matched = [m.rule.id for m in FIELD_RULES.evaluate({"a": value})]
    assert matched == (["field", "and"] if is_truthy(value) else [])


def _lit(value: Any) -> dict[str, Any]:
    return {"type": "literal", "value": value, "children": []}


@settings(max_examples=300, deadline=None)
@given(
    src=st.one_of(
        json_values.map(lambda v: "`" + json.dumps(v) + "`"),
        st.text(alphabet="abDL_ ", max_size=5).map(lambda s: f"'{s}'"),
        st.lists(
            st.sampled_from(["'DDL'", "`1`", "`null`", "`[1]`", "`true`", "'x'"]), max_size=4
        ).map(lambda xs: "[" + ", ".join(xs) + "]" if xs else "`[]`"),
    ),
    event=events,
)
def test_literal_readers_agree_with_evaluation(src: str, event: dict) -> None:
    node = parse(src)
    result, _ = evaluate(node, event)
    if is_literal(node):
        assert literal_value(node) == result
    values = literal_list(node)
    if values is not None:
        assert values == result
    text = literal_str(node)
    if text is not None:
        assert text == result and isinstance(result, str)
    scalar = literal_scalar(node)
    if scalar is not None:
        assert scalar == result and not isinstance(result, bool)


ACTION_FORMS = [
    "das.action == '{0}'",
    "'{0}' == das.action",
    "@.das.action == '{0}'",
    "das | action == '{0}'",
    "(das | action) == '{0}'",
    "(das).action == '{0}'",
    "contains(['{0}', '{1}'], das.action)",
    'contains(`["{0}"]`, @.das.action)',
    "das.action != '{0}'",
    "!(das.action == '{0}')",
    "a == '{0}'",
    "das.action.x == '{0}'",
    "das.action[0] == '{0}'",
]
action_atoms = st.tuples(
    st.sampled_from(ACTION_FORMS), st.sampled_from(ACTIONS), st.sampled_from(ACTIONS)
).map(lambda t: t[0].format(t[1], t[2]))
action_whens = st.recursive(
    action_atoms,
    lambda e: st.tuples(e, st.sampled_from(["&&", "||"]), e).map(
        lambda t: f"({t[0]}) {t[1]} ({t[2]})"
    ),
    max_leaves=5,
)
action_events = st.fixed_dictionaries(
    {
        "das": st.one_of(
            st.fixed_dictionaries(
                {"action": st.one_of(st.sampled_from([*ACTIONS, "MISC"]), json_values)}
            ),
            json_values,
        ),
        "a": st.sampled_from([*ACTIONS, None]),
    }
)


@settings(max_examples=400, deadline=None)
@given(src=action_whens, event=action_events)
def test_a_rule_excluded_for_an_action_never_matches_an_event_with_it(
    src: str, event: dict
) -> None:
    ast = compile_expr(src).compiled.parsed
    allowed = derive_actions(ast)
    action = read_path(event, ACTION_PATH)
    if allowed is not None and not any(action == a and type(action) is str for a in allowed):
        assert is_falsy(SafeInterpreter().visit(ast, event)), (src, event)


@settings(max_examples=200, deadline=None)
@given(srcs=st.lists(action_whens, min_size=1, max_size=6), event=action_events)
def test_the_indexed_rule_set_matches_what_evaluating_every_rule_matches(
    srcs: list[str], event: dict
) -> None:
    rules = [
        Rule(
            id=f"r{i}",
            title="t",
            severity="low",
            when=(expr := compile_expr(src)),
            actions=derive_actions(expr.compiled.parsed),
        )
        for i, src in enumerate(srcs)
    ]
    ruleset = RuleSet(rules)
    interp = SafeInterpreter(make_options({}, {}))
    want = [r.id for r in rules if is_truthy(interp.visit(r.when.compiled.parsed, event))]
    assert [m.rule.id for m in ruleset.evaluate(event)] == want


@settings(max_examples=300, deadline=None)
@given(src=expressions, event=events)
def test_compiled_paths_compute_what_the_interpreter_computes(src: str, event: dict) -> None:
    ast = parse(src)
    interp = SafeInterpreter(make_options({}, {}))
    try:
        want = interp.visit(ast, event)
    except (jexc.JMESPathError, TypeError):
        assume(False)
    assert compile_node(ast, interp)(event) == want


# -- the forms the former copies disagreed on ---------------------------------------------------


@pytest.mark.parametrize(
    ("src", "path"),
    [
        ("das.action", ("das", "action")),
        ("@.das.action", ("das", "action")),  # index, guards and lint said: not a path
        ("das | action", ("das", "action")),  # all copies said: not a path
        ("(das).action", ("das", "action")),
        ("a.b[0]", None),  # the lint copy said ("a",): the value is a.b[0], not a's
        ("a.b[0].c", None),  # the lint copy said ("a",)
        ("a[0].b", None),
        ("!a.b", None),
        ("@", None),
        ('`{"a": 1}`.a', None),
    ],
)
def test_field_path_of_each_form(src: str, path: tuple[str, ...] | None) -> None:
    assert field_path(jmespath.compile(src).parsed) == path


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("@.das.action == 'DDL'", {"DDL"}),  # was None (any action): sound, never indexed
        ("(das | action) == 'DDL'", {"DDL"}),
        ("das | action == 'DDL'", None),  # das | (action == 'DDL'): not read at the top
        ("contains(['DDL', 'READ'], @.das.action)", {"DDL", "READ"}),
        ("das.action.x == 'DDL'", None),
        ("das.action[0] == 'DDL'", None),
    ],
)
def test_the_index_reads_every_spelling_of_das_action(src: str, expected: set[str] | None) -> None:
    assert derive_actions(compile_expr(src).compiled.parsed) == expected


def test_guards_read_every_spelling_of_a_field_path() -> None:
    """``@.dbUserName == 'x'`` pins dbUserName: the guards' own path reader refused ``@``."""
    (guard,) = derive_guards(compile_expr("@.dbUserName == 'x'").compiled.parsed, {}, {})
    assert guard.path == ("dbUserName",) and guard.values == {"x"}
    (guard,) = derive_guards(compile_expr("contains(['a'], das | object)").compiled.parsed, {}, {})
    assert guard.path == ("das", "object")


def test_comparison_and_contains_shapes() -> None:
    node = jmespath.compile("'DDL' == @.das.action").parsed
    ((path, other),) = compared_paths(node)
    assert path == ACTION_PATH and literal_str(other) == "DDL"
    assert contains_path(jmespath.compile("contains(['A'], das.action)").parsed) == (
        ["A"],
        ACTION_PATH,
    )
    assert contains_path(jmespath.compile("contains(das.action, 'A')").parsed) is None


def test_event_paths_and_scopes() -> None:
    def paths(src: str) -> list[tuple[str, ...]]:
        return event_paths(jmespath.compile(src).parsed)

    assert paths("das.action == 'DDL' && dbUserName") == [("das", "action"), ("dbUserName",)]
    # a misspelt field after an index is still a field of the event (the lint copy stopped at das)
    assert paths("das.objecs[0].name") == [("das", "objecs")]
    assert paths("paramList[?contains(@, 'x')].v") == [("paramList",)]
    assert paths("das | action") == [("das", "action")]
    assert paths("sort_by(objects, &name)") == [("objects",)]
    assert not reads_event(jmespath.compile("`[1]`[?a]").parsed)
    assert reads_event(jmespath.compile("[*]").parsed)


@pytest.mark.parametrize(
    ("when", "compared"),
    [
        ("@.das.action == 'LOGIN_FAIL'", ["LOGIN_FAIL"]),  # the lint copy did not see it here
        ("das | action == 'LOGIN_FAIL'", ["LOGIN_FAIL"]),
        ("das.action.code[0] == 'LOGIN_FAIL'", []),  # it read the prefix das.action here
        ("objects[?das.action == 'LOGIN_FAIL']", []),  # an element's field
        ("contains(['DDL', `1`], das.action)", ["DDL"]),
    ],
)
def test_unknown_action_reads_the_field_the_interpreter_reads(
    when: str, compared: list[str]
) -> None:
    assert list(_compared_actions(compile_expr(when))) == compared


def test_unknown_fields_are_the_fields_the_interpreter_reads() -> None:
    def flagged(src: str) -> list[str]:
        return [m for m, _ in unknown_fields(compile_expr(src), frozenset())]

    # the lint copy stopped at the first index: `das` is known, the misspelt `objecs` was missed
    assert flagged("das.objecs[0].name == 'x'") == [
        "`das.objecs` is not a derived field (it is always null)"
    ]
    # and it did not read through `@`
    assert flagged("@.dbUsername == 'x'") == [
        "`dbUsername` is not a DAS event field (it is always null)"
    ]
    assert flagged("paramList[?dbUsername == 'x']") == []  # an element's field


def test_mixed_types_compare_the_whole_path() -> None:
    def found(src: str) -> list[str]:
        return [m for m, _ in mismatches(compile_expr(src), {})]

    plain = found("exitCode == '0'")
    assert plain and found("@.exitCode == '0'") == plain  # the lint copy missed `@.`
    # the lint copy took the prefix `exitCode` for the value of `exitCode.code[0]`
    assert found("exitCode.code[0] == '0'") == []


def test_the_toolbox_imports_only_jmespath_and_the_standard_library() -> None:
    """Every room of engine.rules (the runtime above all) may import it: it imports no room."""
    import ast
    import sys
    from pathlib import Path

    import engine.rules.jpast as jpast

    tree = ast.parse(Path(jpast.__file__).read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - {"jmespath"} <= set(sys.stdlib_module_names) | {"__future__"}
    assert "jmespath" in roots
