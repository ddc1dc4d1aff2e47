"""The second index level (engine.rules.runtime.guards): sound, and selective."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules.lang.expr import compile_expr
from engine.rules.model import Rule
from engine.rules.runtime.guards import Guard, best_guard, derive_guards
from engine.rules.runtime.ruleset import RuleSet, is_true

LISTS = {"departed": ["Mallory", "eve", 7], "dbas": ["rdsadmin", "DBA"]}
WHENS = [
    "dbUserName == 'mallory'",
    "das.action == 'READ' && das.object == 'payroll'",
    "das.action == 'READ' && das.rows > `5` && das.object == 'payroll'",
    "in_list(dbUserName, 'departed')",
    "in_list_ci(dbUserName, 'departed') && das.action == 'CONNECT'",
    "contains(['payroll', 'cards'], das.object) && dbUserName == 'eve'",
    "das.database == 'hr' || dbUserName == 'eve'",  # no guard: ||
    "!in_list_ci(dbUserName, 'dbas')",  # no guard: !
    "das.rows == `7`",
    "`7` == das.rows && das.action == 'READ'",
    "dbUserName == 'eve' && dbUserName == 'mallory'",  # never true: still sound
]


def _rules() -> list[Rule]:
    from engine.rules.runtime.index import derive_actions

    out = []
    for i, src in enumerate(WHENS):
        expr = compile_expr(src)
        out.append(
            Rule(
                id=f"r{i}",
                title="t",
                severity="low",
                when=expr,
                actions=derive_actions(expr.compiled.parsed),
            )
        )
    return out


RULESET = RuleSet(_rules(), LISTS)
INTERPRETER = RULESET._interpreter

values = st.one_of(
    st.sampled_from(["mallory", "Mallory", "MALLORY", "eve", "payroll", "cards", "hr", "x"]),
    st.sampled_from([7, 7.0, True, 5, 0, None]),
    st.lists(st.just("eve"), max_size=2),
    st.dictionaries(st.just("k"), st.just("eve"), max_size=1),
)


@settings(max_examples=400, deadline=None)
@given(
    user=values,
    obj=values,
    db=values,
    rows=values,
    action=st.sampled_from(["READ", "WRITE", "CONNECT", "DDL", None]),
    das_is_dict=st.booleans(),
)
def test_guarded_evaluation_equals_evaluating_every_rule(
    user: Any, obj: Any, db: Any, rows: Any, action: Any, das_is_dict: bool
) -> None:
    das = {"action": action, "object": obj, "database": db, "rows": rows}
    event = {"dbUserName": user, "das": das if das_is_dict else "not a dict"}
    want = [
        r.id for r in RULESET.rules if is_true(INTERPRETER.visit(r.when.compiled.parsed, event))
    ]
    assert [m.rule.id for m in RULESET.evaluate(event)] == want


def test_guards_derived_from_each_form() -> None:
    lists = {"departed": frozenset({"Mallory", "eve", 7})}
    lists_ci = {"departed": frozenset({"mallory", "eve"})}

    def guards(src: str) -> list[Guard]:
        return derive_guards(compile_expr(src).compiled.parsed, lists, lists_ci)

    assert guards("dbUserName == 'x'") == [Guard(("dbUserName",), frozenset({"x"}))]
    assert guards("contains(['a', 'b'], das.object)") == [
        Guard(("das", "object"), frozenset({"a", "b"}))
    ]
    assert guards("in_list_ci(dbUserName, 'departed')") == [
        Guard(("dbUserName",), frozenset({"mallory", "eve"}), casefold=True)
    ]
    assert guards("a == 'x' || b == 'y'") == [] and guards("!(a == 'x')") == []
    assert guards("in_list(a, 'unknown_list')") == []
    both = guards("das.action == 'READ' && das.object == 'payroll'")
    assert best_guard(both, frozenset({("das", "action")})) == Guard(
        ("das", "object"), frozenset({"payroll"})
    )


def test_a_thousand_pinned_rules_run_only_the_ones_the_event_names() -> None:
    rules = [
        Rule(
            id=f"read-{i}",
            title="t",
            severity="low",
            when=compile_expr(f"das.action == 'READ' && das.object == 'table_{i}'"),
            actions=frozenset({"READ"}),
        )
        for i in range(1000)
    ]
    ruleset = RuleSet(rules)
    event = {"das": {"action": "READ", "object": "table_421"}}
    assert [r.id for r in ruleset.candidates(event)] == ["read-421"]
    assert [m.rule.id for m in ruleset.evaluate(event)] == ["read-421"]
    assert ruleset.candidates({"das": {"action": "READ", "object": "other"}}) == ()
