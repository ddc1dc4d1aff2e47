"""The das.action index: derived where it can be, and never wrong (hypothesis vs evaluation)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules.lang.expr import compile_expr
from engine.rules.runtime.functions import make_options
from engine.rules.runtime.index import derive_actions

OPTIONS = make_options({"admins": ["rdsadmin"], "acts": ["DDL"]}, {})


def actions(src: str) -> frozenset[str] | None:
    return derive_actions(compile_expr(src).compiled.parsed)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("das.action == 'DDL'", {"DDL"}),
        ("'DDL' == das.action", {"DDL"}),
        ("das.action == 'DDL' && !in_list(dbUserName, 'admins')", {"DDL"}),
        ("!in_list(dbUserName, 'admins') && das.action == 'DDL'", {"DDL"}),
        ("das.action == 'DDL' || das.action == 'ROLE'", {"DDL", "ROLE"}),
        ("contains(['LOGIN_FAILED', 'CONNECT'], das.action)", {"LOGIN_FAILED", "CONNECT"}),
        ('contains(`["READ"]`, das.action) && rowCount > `5`', {"READ"}),
        (
            "(das.action == 'A' || das.action == 'B') && (das.action == 'B' || das.action == 'C')",
            {"B"},
        ),
        ("das.action == 'A' && das.action == 'B'", set()),
        ("das.action == 'DDL' || dbUserName == 'x'", None),
        ("das.action != 'DDL'", None),
        ("!(das.action == 'DDL')", None),
        ("in_list(das.action, 'acts')", None),
        ("contains(['A', `1`], das.action)", None),
        ("contains(das.action, 'DD')", None),
        ("das.action == `1`", None),
        ("das.verb == 'DROP'", None),
        ("action == 'DDL'", None),
        ("das.action", None),
        ("[das.action == 'DDL'][0]", None),
        ("das.action == 'DDL' | @", None),
    ],
)
def test_derivation(src, expected):
    got = actions(src)
    assert got == (frozenset(expected) if expected is not None else None)


ACTIONS = ["DDL", "ROLE", "READ", "WRITE", "CONNECT", "LOGIN_FAILED"]
LEAF = st.one_of(
    st.sampled_from(ACTIONS).map(lambda a: f"das.action == '{a}'"),
    st.sampled_from(ACTIONS).map(lambda a: f"'{a}' == das.action"),
    st.sampled_from(ACTIONS).map(lambda a: f"das.action != '{a}'"),
    st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3).map(
        lambda xs: "contains([" + ", ".join(f"'{x}'" for x in xs) + "], das.action)"
    ),
    st.just("in_list(das.action, 'acts')"),
    st.just("das.failed"),
    st.just("dbUserName == 'app'"),
    st.just("in_list(dbUserName, 'admins')"),
    st.just("starts_with(das.action, 'D')"),
    st.just("das.action"),
    st.just("`true`"),
    st.just("`false`"),
)
EXPR = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]} && {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} || {t[1]})"),
        inner.map(lambda e: f"!({e})"),
        inner.map(lambda e: f"[{e}][0]"),
    ),
    max_leaves=6,
)
EVENT = st.fixed_dictionaries(
    {
        "das": st.fixed_dictionaries(
            {
                "action": st.sampled_from([*ACTIONS, "MISC", None]),
                "failed": st.booleans(),
            }
        ),
        "dbUserName": st.sampled_from(["app", "rdsadmin", None]),
    }
)


def truthy(v: object) -> bool:
    return not (v is None or v is False or v in ("", [], {}))


@settings(max_examples=400, deadline=None)
@given(src=EXPR, events=st.lists(EVENT, min_size=1, max_size=8))
def test_index_is_sound(src, events):
    """If the rule matches an event, the index must let that event's action through."""
    expr = compile_expr(src)
    allowed = derive_actions(expr.compiled.parsed)
    for event in events:
        if truthy(expr.compiled.search(event, options=OPTIONS)):
            assert allowed is None or event["das"]["action"] in allowed, (src, event)
