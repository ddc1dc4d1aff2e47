"""The custom JMESPath functions: total (never raise), exact, and cached."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules.lang.expr import compile_expr
from engine.rules.runtime.functions import (
    CUSTOM_FUNCTIONS,
    DasFunctions,
    compile_regex,
    make_options,
)
from engine.rules.runtime.interpreter import SafeInterpreter

LISTS = {
    "admins": ["rdsadmin", "RDSADMIN", "flyway", 42],
    "office_nets": ["10.0.0.0/8", "2001:db8::/32", "not a net"],
}
PARAMS = {"large_read_rows": 100000, "name": "x"}
OPTIONS = make_options(LISTS, PARAMS)


def jp(expr: str, event: object) -> object:
    return compile_expr(expr).compiled.search(event, options=OPTIONS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rdsadmin", True),
        ("RDSadmin", False),
        ("app", False),
        (42, True),
        (42.0, True),
        ("42", False),
        (None, False),
        (True, False),
        ([1], False),
        ({"a": 1}, False),
    ],
)
def test_in_list_is_exact(value, expected):
    assert jp("in_list(v, 'admins')", {"v": value}) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("RDSadmin", True), ("FLYWAY", True), ("app", False), (42, False), (None, False)],
)
def test_in_list_ci(value, expected):
    assert jp("in_list_ci(v, 'admins')", {"v": value}) is expected


def test_in_list_unknown_list_at_runtime_is_false():
    assert jp("in_list(v, 'nope')", {"v": "x"}) is False
    assert jp("in_list(v, n)", {"v": "x", "n": 5}) is False


@pytest.mark.parametrize(
    ("expr", "value", "expected"),
    [
        ("matches(v, '^DROP\\s')", "DROP TABLE t", True),
        ("matches(v, '^DROP\\s')", "drop table t", False),
        ("imatches(v, '^DROP\\s')", "drop table t", True),
        ("matches(v, '(?i)grant\\s+all')", "GRANT ALL ON x", True),
        ("matches(v, 'x')", None, False),
        ("matches(v, 'x')", 5, False),
        ("matches(v, 'x')", ["x"], False),
        ("matches(v, p)", "(", False),  # a bad regex at runtime: false, no exception
    ],
)
def test_matches(expr, value, expected):
    assert jp(expr, {"v": value, "p": "("}) is expected


def test_regexes_are_compiled_once():
    compile_regex.cache_clear()
    for _ in range(5):
        jp("matches(v, 'abc+')", {"v": "abccc"})
    info = compile_regex.cache_info()
    assert info.misses == 1 and info.hits >= 4


@pytest.mark.parametrize(
    ("ip", "spec", "expected"),
    [
        ("10.1.2.3", "'10.0.0.0/8'", True),
        ("11.1.2.3", "'10.0.0.0/8'", False),
        ("10.1.2.3:5432", "'10.0.0.0/8'", True),
        ("::ffff:10.1.2.3", "'10.0.0.0/8'", True),
        ("2001:db8::1", "'2001:db8::/32'", True),
        ("[2001:db8::1]", "'2001:db8::/32'", True),
        ("2001:db9::1", "'2001:db8::/32'", False),
        ("2001:db8::1", "'10.0.0.0/8'", False),
        ("10.1.2.3", "'office_nets'", True),
        ("2001:db8::5", "'office_nets'", True),
        ("192.168.1.1", "'office_nets'", False),
        ("192.168.1.1", "['10.0.0.0/8', '192.168.0.0/16']", True),
        ("192.168.1.1", '`["192.168.1.1"]`', True),
        ("local machine", "'10.0.0.0/8'", False),
        ("localhost", "'10.0.0.0/8'", False),
        ("", "'10.0.0.0/8'", False),
        (None, "'10.0.0.0/8'", False),
        (167772161, "'10.0.0.0/8'", False),
        ("10.1.2.3", "'garbage'", False),
        ("10.1.2.3", "`5`", False),
    ],
)
def test_cidr_match(ip, spec, expected):
    assert jp(f"cidr_match(ip, {spec})", {"ip": ip}) is expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("10.0.0.1", True),
        ("172.31.3.195", True),
        ("127.0.0.1", True),
        ("fd00::1", True),
        ("fe80::1", True),
        ("8.8.8.8", False),
        ("2001:4860::8888", False),
        ("local machine", False),
        (None, False),
        # RFC 6598 shared address space (EKS pods, VPC secondary CIDRs) is internal
        ("100.64.0.1", True),
        ("100.127.255.254", True),
        ("100.128.0.1", False),
        ("::ffff:100.64.3.4", True),
        ("169.254.169.254", True),
        ("10.1.2.3:5432", True),
        # the documentation and benchmarking ranges are nobody's internal network
        ("192.0.2.10", False),
        ("198.51.100.12", False),
        ("203.0.113.7", False),
        ("198.18.0.1", False),
        ("240.0.0.1", False),
        ("2001:db8::1", False),
        ("0.0.0.0", False),
    ],
)
def test_is_private_ip(ip, expected):
    assert jp("is_private_ip(ip)", {"ip": ip}) is expected


_BUCKETS = "s3(?:-[a-z0-9-]+)?://([a-z0-9.-]+)|arn:aws[a-z-]*:s3:::([a-z0-9.-]+)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INTO OUTFILE S3 's3-us-east-1://Acme-Exports/x'", ["Acme-Exports"]),
        (
            "@s3_arn_to_backup_to='arn:aws:s3:::backups/db.bak' -- s3://decoy/x",
            ["backups", "decoy"],
        ),
        ("SELECT 1", []),
        (None, []),
        (7, []),
    ],
)
def test_regex_findall_returns_the_first_group_that_matched(text, expected):
    assert jp(f"regex_findall(v, '{_BUCKETS}')", {"v": text}) == expected


def test_regex_findall_without_a_group_returns_whole_matches_and_feeds_a_filter():
    assert jp("regex_findall(v, '\\d+')", {"v": "a1 b22"}) == ["1", "22"]
    options = make_options({"ok": ["backups"]}, {})
    expr = compile_expr(f"regex_findall(v, '{_BUCKETS}')[?!in_list(@, 'ok')]").compiled
    assert expr.search({"v": "arn:aws:s3:::backups/x s3://loot/y"}, options=options) == ["loot"]


@pytest.mark.parametrize(
    ("expr", "event", "expected"),
    [
        ("lower(v)", {"v": "RDSADMIN"}, "rdsadmin"),
        ("upper(v)", {"v": "rdsadmin"}, "RDSADMIN"),
        ("lower(v)", {"v": None}, None),
        ("upper(v)", {"v": 5}, None),
        ("lower(v)", {}, None),
        ("param('large_read_rows')", {}, 100000),
        ("param('missing')", {}, None),
        ("param(`5`)", {}, None),
        ("starts_with_any(v, ['CREATE', 'DROP'])", {"v": "DROP TABLE"}, True),
        ("starts_with_any(v, ['CREATE', 'DROP'])", {"v": "SELECT"}, False),
        ("starts_with_any(v, 'DR')", {"v": "DROP"}, True),
        ("starts_with_any(v, ['x'])", {"v": None}, False),
        ("starts_with_any(v, `5`)", {"v": "5"}, False),
        ("ends_with_any(v, ['_bak', '_old'])", {"v": "users_bak"}, True),
        ("ends_with_any(v, ['_bak'])", {"v": 5}, False),
        (
            "contains_any(lower(v), ['into outfile', 'pg_read_file'])",
            {"v": "SELECT * INTO OUTFILE '/tmp/x'"},
            True,
        ),
        ("contains_any(v, ['x'])", {"v": ["x"]}, False),
        ("to_int(v)", {"v": "1045"}, 1045),
        ("to_int(v)", {"v": " 7 "}, 7),
        ("to_int(v)", {"v": 3.9}, 3),
        ("to_int(v)", {"v": "2.5"}, 2),
        ("to_int(v)", {"v": "28P01"}, None),
        ("to_int(v)", {"v": True}, None),
        ("to_int(v)", {"v": None}, None),
        ("to_int(v)", {"v": "nan"}, None),
        ("to_int(v)", {"v": "1e999"}, None),
    ],
)
def test_value_functions(expr, event, expected):
    assert jp(expr, event) == expected


def test_every_custom_function_is_registered_and_documented():
    table = DasFunctions.FUNCTION_TABLE
    for name, (arity, doc) in CUSTOM_FUNCTIONS.items():
        assert name in table
        assert len(table[name]["signature"]) == arity
        assert doc.startswith(name + "(")


# -- mixed-type comparisons: never an exception ------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "event", "expected"),
    [
        ("exitCode == `0`", {"exitCode": "0"}, False),  # MySQL: a string
        ("exitCode == `0`", {"exitCode": 0}, True),
        ("exitCode < `5`", {"exitCode": "0"}, None),  # jmespath 1.x raises TypeError here
        ("exitCode >= `5`", {"exitCode": "1045"}, None),
        ("rowCount > `100`", {"rowCount": None}, None),
        ("rowCount > `100`", {"rowCount": 101}, True),
        ("rowCount > param('large_read_rows')", {"rowCount": "200000"}, None),
        ("a < b", {"a": "x", "b": "y"}, True),  # strings still order
        ("a <= b", {"a": "x", "b": 1}, None),
        ("a > b", {"a": True, "b": 1}, None),
        ("a > b", {"a": [1], "b": [0]}, None),
    ],
)
def test_mixed_type_comparisons_do_not_raise(expr, event, expected):
    assert jp(expr, event) is expected or jp(expr, event) == expected


def test_safe_interpreter_is_what_the_rule_set_can_share():
    interp = SafeInterpreter(OPTIONS)
    parsed = compile_expr("exitCode < `5` || in_list(dbUserName, 'admins')").compiled.parsed
    assert interp.visit(parsed, {"exitCode": "0", "dbUserName": "rdsadmin"}) is True
    assert interp.visit(parsed, {"exitCode": "0", "dbUserName": "app"}) is False


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
CALLS = [
    f"{name}({', '.join(['a', 'b', 'a'][:arity])})" for name, (arity, _) in CUSTOM_FUNCTIONS.items()
] + ["a < b", "a >= b", "a == b", "a != b", "regex_extract(a, b, a)"]


@settings(max_examples=300, deadline=None)
@given(a=JSON, b=JSON, call=st.sampled_from(CALLS))
def test_functions_and_comparisons_are_total(a, b, call):
    jp(call, {"a": a, "b": b})  # any value, any type: an answer, never an exception


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("starts_with(commandText, 'GRANT')", None),
        ("contains(commandText, 'x')", None),
        ("length(rowCount)", None),
        ("!starts_with(commandText, 'GRANT')", True),
        ("to_number(commandText)", None),
    ],
)
def test_standard_functions_give_null_on_wrong_types(expr, expected):
    # a PostgreSQL CONNECT has commandText null: plain jmespath raises JMESPathTypeError
    assert jp(expr, {"commandText": None, "rowCount": 5}) is expected


MIXED = {"items": [{"v": 1}, {"v": "a"}, {"v": 3}]}


@pytest.mark.parametrize("name", ["max_by", "min_by"])
def test_max_by_and_min_by_on_mixed_key_types_give_null(name):
    # plain jmespath raises a bare TypeError here ('<' between str and int)
    assert jp(f"{name}(items, &v)", MIXED) is None
    assert jp(f"{name}(items, &v) == `null`", MIXED) is True
    assert jp(f"{name}(items, &v)", {"items": [{"v": 1}, {"v": 3}]}) == (
        {"v": 3} if name == "max_by" else {"v": 1}
    )
    assert jp(f"{name}(items, &v)", {"items": [{"v": True}]}) is None  # a JMESPath type error


def test_max_by_on_mixed_types_is_no_rule_error():
    from engine.rules.lang.loader import load_rule_text
    from engine.rules.runtime.ruleset import RuleSet

    text = (
        "id: r\ntitle: t\nseverity: low\nwhen: max_by(items, &v).v == `3`\n"
        "tests:\n  - {name: a, event: {items: [{v: 3}]}, expect: {match: true}}\n"
        "  - {name: b, event: {items: []}, expect: {match: false}}\n"
    )
    rule, problems, _ = load_rule_text(text, "r.yaml", {}, {})
    assert rule is not None, problems
    result = RuleSet([rule]).evaluate_all(MIXED)
    assert result.errors == [] and result.matches == []


OPS = ["==", "!=", "<", "<=", ">", ">="]


@settings(max_examples=400, deadline=None)
@given(a=JSON, b=JSON, op=st.sampled_from(OPS))
def test_safe_interpreter_agrees_with_jmespath_wherever_jmespath_answers(a, b, op):
    from jmespath.visitor import TreeInterpreter

    parsed = compile_expr(f"a {op} b").compiled.parsed
    event = {"a": a, "b": b}
    ours = SafeInterpreter().visit(parsed, event)
    try:
        theirs = TreeInterpreter().visit(parsed, event)
    except TypeError:  # '3' < `5`: jmespath 1.x raises, we answer null (no match)
        assert ours is None
        return
    assert ours == theirs and type(ours) is type(theirs)
