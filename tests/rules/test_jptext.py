"""``unparse`` writes an AST back as JMESPath that parses to the same tree; ``operands`` splits
an ``&&``/``||`` chain as the author wrote it. ``dasalert test --explain`` prints both."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jmespath.parser import Parser

from engine.rules.jpast import operands, unparse
from engine.rules.lang.loader import load_rules

ROOT = Path(__file__).resolve().parents[2]
_parser = Parser()

EXPRESSIONS = [
    "das.action == 'DDL' && !in_list_ci(dbUserName, 'admins')",
    "a || b && c",
    "(a || b) && c",
    "a && (b && c)",
    "!(das.aux)",
    "!das.aux",
    "!!a",
    "a | b | c",
    "a | (b | c)",
    "(a == b) == c",
    "a[*].b",
    "a[?b == `1`].c",
    "a[1:2]",
    "a[::2]",
    "a[]",
    "a[]. b",
    "a.*.b",
    "x.[a, b]",
    '{x: a, "y-z": b}',
    "sort_by(a, &b)",
    "`[1, 2]`",
    "'a\\'b'",
    '`"back\\\\slash"`',
    '"a-b".c',
    "a[-1]",
    "[0]",
    "@",
    "contains(['A', 'B'], das.action)",
    "das.rows > `100` && das.rows <= param('x')",
    "`null` == a",
    "length(a[?b]) >= `2`",
    "(a && b).c",
    "a[*][0]",
    "foo[0][1].bar",
]


def roundtrip(src: str) -> None:
    ast = _parser.parse(src).parsed
    text = unparse(ast)
    assert _parser.parse(text).parsed == ast, (src, text)


@pytest.mark.parametrize("src", EXPRESSIONS)
def test_unparse_parses_back_to_the_same_tree(src: str) -> None:
    try:
        _parser.parse(src)
    except Exception:
        pytest.skip("not valid JMESPath")
    roundtrip(src)


def test_every_shipped_expression_round_trips() -> None:
    loaded = load_rules(ROOT / "rules")
    assert loaded.rules
    for rule in loaded.rules:
        exprs = [rule.when] + [x.when for x in rule.unless]
        exprs += [e for e in (rule.dedup and rule.dedup.key,) if e]
        for expr in exprs:
            roundtrip(expr.src)


_names = st.sampled_from(["a", "b", "das.action", "dbUserName", "x.y", "@"])
_lits = st.sampled_from(["'DDL'", "`1`", "`null`", "`true`", "`[1]`", "'o''k'"])
_atoms = st.one_of(_names, _lits, st.builds("lower({})".format, _names))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    ops = st.sampled_from([" && ", " || ", " == ", " != ", " < ", " | "])
    return st.one_of(
        st.builds(lambda a, op, b: a + op + b, children, ops, children),
        st.builds("({})".format, children),
        st.builds("!{}".format, children),
        st.builds("[{}, {}]".format, children, children),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(_atoms, _combine, max_leaves=8))
def test_generated_expressions_round_trip(src: str) -> None:
    try:
        _parser.parse(src)
    except Exception:
        return
    roundtrip(src)


def test_operands_flatten_one_operator_and_keep_the_other() -> None:
    ast = _parser.parse("a && (b || c) && !d && e").parsed
    op, parts = operands(ast)
    assert op == "&&"
    assert [unparse(p) for p in parts] == ["a", "b || c", "!d", "e"]
    op2, inner = operands(parts[1])
    assert op2 == "||" and [unparse(p) for p in inner] == ["b", "c"]
    assert operands(_parser.parse("a == b").parsed)[0] is None
