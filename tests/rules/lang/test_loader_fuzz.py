"""Any input gives rules or problems: never an exception, never an internal error."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rules.lang import schema as S
from engine.rules.lang.loader import load_lists_text, load_rule_text

LISTS = {"admins": ["rdsadmin"]}
PARAMS = {"large_read_rows": 100000}


def check(text: str) -> None:
    rule, problems, _ = load_rule_text(text, "f.yaml", LISTS, PARAMS)
    assert not any("internal error" in p.message for p in problems), problems
    if rule is None:
        assert any(p.level == "error" for p in problems)
    else:
        assert not any(p.level == "error" for p in problems)
    for p in problems:
        assert p.file == "f.yaml" and p.message
        assert p.line is None or p.line >= 1
        str(p)


YAMLISH = st.text(
    alphabet=st.sampled_from(list("abc:-[]{}'\"`!&*|>#%@,?\n \t0123456789.=")),
    max_size=120,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_arbitrary_yaml_text(text):
    check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode_text(text):
    check(text)
    load_lists_text(text, "lists.yaml")


SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "das.action == 'DDL'",
            "in_list(dbUserName, 'admins')",
            "in_list(x, 'nope')",
            "matches(a, '(')",
            "1h",
            "5m",
            "0s",
            "2027-06-30",
            "high",
            "postgres",
            "attack.t1110",
            "https://x.example",
            "+30s",
        ]
    ),
    st.dates(),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [*S.RULE_KEYS, *S.TEST_KEYS, *S.UNLESS_KEYS, *S.THRESHOLD_KEYS, "match", "at", "zz"]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)
RULE_DOC = st.dictionaries(st.sampled_from([*S.RULE_KEYS, "severty", "x"]), VALUE, max_size=10)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RULE_DOC)
def test_arbitrary_rule_mappings(doc):
    check(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=150, deadline=None)
@given(
    when=st.text(alphabet=st.sampled_from(list("abdas.=!&|()[]'`,_ 0123456789")), max_size=40),
    severity=st.sampled_from([*S.SEVERITY_VALUES, "x"]),
)
def test_arbitrary_expressions(when, severity):
    doc = {"id": "r", "title": "t", "severity": severity, "when": when}
    check(yaml.safe_dump(doc))
