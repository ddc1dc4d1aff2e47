"""Compiled evaluation gives exactly the interpreter's results (differential, property-based)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules.lang.expr import compile_expr
from engine.rules.lang.loader import load_rules
from engine.rules.runtime.compiled import compile_node
from engine.rules.runtime.functions import make_options
from engine.rules.runtime.interpreter import SafeInterpreter

RULES = Path(__file__).resolve().parents[3] / "rules"
LISTS = {"admins": ["rdsadmin", "RDSADMIN", 0, 1.5], "hosts": ["10.0.0.0/8"]}
PARAMS = {"large_read_rows": 100, "zero": 0}

# what rules are made of, plus the corners where JMESPath and Python disagree
CORPUS = [
    "das.action == 'DDL'",
    "das.action != 'DDL'",
    "'DDL' == das.action",
    "!das.aux",
    "!(das.aux)",
    "!rowCount",
    "!`0`",
    "!`[]`",
    "rowCount",
    "rowCount && dbUserName",
    "rowCount || dbUserName",
    "exitCode && das.action == 'DDL'",
    "!exitCode || !rowCount",
    "rowCount == `0`",
    "rowCount == `false`",
    "rowCount == `true`",
    "rowCount == `1`",
    "rowCount != `1`",
    "rowCount > `10`",
    "rowCount >= exitCode",
    "exitCode < `5`",
    "dbUserName < 'm'",
    "rowCount > param('large_read_rows')",
    "rowCount > param('zero') || exitCode",
    "das.rows > `1` && !in_list_ci(dbUserName, 'admins')",
    "in_list(rowCount, 'admins')",
    "in_list(dbUserName, 'admins') || in_list_ci(dbUserName, 'admins')",
    "matches(commandText, '^(?i)grant')",
    "imatches(commandText, 'drop\\s+table')",
    "cidr_match(remoteHost, 'hosts')",
    "starts_with(commandText, 'CREATE')",
    "contains(['A', 'B'], das.action)",
    "length(commandText) > `3`",
    "lower(dbUserName) == 'app'",
    "[das.clusterId || das.instanceId, dbUserName]",
    "das.clusterId || das.instanceId",
    "das.missing.deeper.still",
    "engineNativeAuditFields.response_rows > `0`",
    "paramList[0]",
    "paramList[?@ == 'x'] | length(@)",
    "sort_by(items, &k)[0].k",
    "@",
    '`{"a": 1}`',
    "das.action == 'READ' && (rowCount > `5` || exitCode == '0') && !(das.failed)",
]

# the values where JMESPath, Python and our functions part ways: falsy ones, 0/1 vs booleans,
# numbers vs numeric strings, list members, matching and non-matching text
CORNERS = [None, True, False, 0, 1, 0.0, 1.0, -1, 5, 150, 2.5, "", "0", "1", "DDL", "READ",
           "app", "rdsadmin", "RDSADMIN", "10.1.2.3", "GRANT ALL", "drop   table t", "m", [],
           {}, [0], ["x"], {"k": 0}]  # fmt: skip
scalars = st.one_of(st.sampled_from(CORNERS), st.integers(min_value=-3, max_value=200))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["k", "a", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
FIELDS = [
    "dbUserName",
    "rowCount",
    "exitCode",
    "commandText",
    "remoteHost",
    "paramList",
    "engineNativeAuditFields",
    "items",
]
events = st.fixed_dictionaries(
    {
        "das": st.one_of(
            values,
            st.fixed_dictionaries(
                {},
                optional={
                    "action": st.one_of(st.sampled_from(["DDL", "READ", "ROLE"]), values),
                    "aux": values,
                    "failed": values,
                    "rows": values,
                    "clusterId": values,
                    "instanceId": values,
                },
            ),
        )
    },
    optional={f: values for f in FIELDS},
)

OPTIONS = make_options(LISTS, PARAMS)
INTERP = SafeInterpreter(OPTIONS)


def _shipped() -> list[str]:
    loaded = load_rules([RULES])
    out = []
    for rule in loaded.rules:
        out.append(rule.when.src)
        out += [x.when.src for x in rule.unless]
        if rule.dedup and rule.dedup.key:
            out.append(rule.dedup.key.src)
        if rule.threshold and rule.threshold.group_by:
            out.append(rule.threshold.group_by.src)
    return out


EXPRESSIONS = [compile_expr(src) for src in CORPUS + _shipped()]
COMPILED = [(e, compile_node(e.compiled.parsed, INTERP)) for e in EXPRESSIONS]


def outcome(fn: Any, event: dict) -> tuple[str, Any]:
    try:
        result = fn(event)
    except Exception as exc:  # both must raise alike, too
        return "raised", type(exc).__name__
    return type(result).__name__, result


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_compiled_equals_interpreted_on_any_event(event: dict) -> None:
    for expr, fn in COMPILED:
        want = outcome(lambda e, expr=expr: INTERP.visit(expr.compiled.parsed, e), event)
        assert outcome(fn, event) == want, expr.src


def test_compiled_equals_interpreted_on_every_combination_of_corner_values() -> None:
    """Deterministic too: every corner value in the fields rules test most."""
    import itertools

    flat = [c for c in CORNERS if not isinstance(c, list | dict)] + [[], {}, [0]]
    grid = [
        {"rowCount": a, "exitCode": b, "dbUserName": c, "das": {"action": "DDL", "rows": a}}
        for a, b, c in itertools.product(flat, flat, ["app", "RDSADMIN", None, 0, ""])
    ] + [
        {"das": {"action": a, "aux": b, "failed": c}, "commandText": "GRANT ALL"}
        for a, b, c in itertools.product(["DDL", "READ", None, 0, ["DDL"]], flat, [True, 0, None])
    ]
    for expr, fn in COMPILED:
        for event in grid:
            want = outcome(lambda e, expr=expr: INTERP.visit(expr.compiled.parsed, e), event)
            assert outcome(fn, event) == want, (expr.src, event)


def test_unknown_node_types_fall_back_to_the_interpreter() -> None:
    expr = compile_expr("items[?k > `1`].k | [0]")
    fn = compile_node(expr.compiled.parsed, INTERP)
    assert fn({"items": [{"k": 1}, {"k": 2}, {"k": 3}]}) == 2


def test_an_interpreter_that_overrides_a_method_is_never_bypassed() -> None:
    class Loud(SafeInterpreter):
        def visit_field(self, node: dict, value: Any) -> Any:
            return "overridden"

    fn = compile_node(compile_expr("dbUserName").compiled.parsed, Loud(OPTIONS))
    assert fn({"dbUserName": "app"}) == "overridden"
