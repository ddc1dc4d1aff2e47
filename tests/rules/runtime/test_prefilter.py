"""The SQL literal prefilter never changes what matches: it only skips work.

Two properties: a regex's extracted literals are in every text it matches (checked on the
shipped pack's own patterns and on adversarial texts), and a RuleSet with prefilters matches
exactly what the plain interpreter matches, rule by rule, on generated events.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import base_event, normalize
from engine.rules import RuleSet, build_engine
from engine.rules.lang.expr import compile_expr
from engine.rules.runtime.prefilter import regex_literals, required_literals
from engine.rules.runtime.ruleset import is_true

RULES = Path(__file__).resolve().parents[3] / "rules"
WIRED = build_engine(RULES)
RULESET = WIRED.ruleset
# the pack without exceptions: the prefilter guards ``when`` only, so compare ``when`` alone
WHEN_ONLY = RuleSet(
    [dataclasses.replace(r, unless=()) for r in WIRED.loaded.rules],
    WIRED.loaded.lists,
    WIRED.loaded.params,
)


def _patterns() -> list[tuple[str, str]]:
    """(rule id, pattern) of every literal regex argument in the shipped pack."""
    found = []
    for rule in WIRED.loaded.rules:
        for m in re.finditer(r"i?matches\(\s*[\w.]+\s*,\s*'((?:[^']|'')*)'", rule.when.src):
            found.append((rule.id, m[1].replace("''", "'")))
    return found


PATTERNS = _patterns()


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"(?s)(?<![A-Za-z_$])(?:pg_read_file|lo_export)\s*\(|\bCOPY\b.*?\b(?:FROM|TO)",
         {"pg_read_file", "lo_export", "copy"}),
        (r"(?:foo)?bar", {"bar"}),
        (r"select\s+xp_dirtree", {"xp_dirtree"}),  # the rare word, not SELECT
        (r"'\s*;\s*drop", {"'"}),
        (r"x+yz", {"yz"}),
        (r"(?:ab)+", {"ab"}),
        (r"a|b", None),
        (r"\w+", None),
        (r"foo|\d+", None),  # one alternative without a literal: nothing is required
        (r"grant\s+(?:all|select)\s+on", {"grant"}),
        (r"ſelect", None),  # a non-ASCII literal: Unicode case folding is not copied
    ],
)  # fmt: skip
def test_literals_of_a_regex(pattern: str, literals: set[str] | None) -> None:
    got = regex_literals(pattern)
    assert (set(got) if got is not None else None) == literals


def test_the_pack_s_signature_rules_are_prefiltered() -> None:
    assert PATTERNS, "the pack has regex signatures"
    filtered = {rid for rid, lits in RULESET.prefiltered.items() if lits}
    assert len(filtered) >= 5


def test_only_conjuncts_of_the_top_level_and_chain_count() -> None:
    def lits(src: str) -> frozenset[str] | None:
        return required_literals(compile_expr(src).compiled.parsed)

    assert lits("das.action == 'READ' && imatches(das.sql, 'pg_sleep')") == {"pg_sleep"}
    assert lits("das.action == 'READ' || imatches(das.sql, 'pg_sleep')") is None
    assert lits("imatches(das.sql, 'pg_sleep') || contains(das.sql, 'waitfor')") == {
        "pg_sleep",
        "waitfor",
    }
    assert lits("imatches(das.sql, 'select .* pg_sleep') && rowCount") == {" pg_sleep"}
    assert lits("!imatches(das.sql, 'pg_sleep')") is None
    assert lits("contains(lower(das.sql), 'xp_cmdshell') && rowCount") == {"xp_cmdshell"}
    assert lits("contains_any(das.sql, ['UTL_HTTP', 'utl_tcp'])") == {"utl_http", "utl_tcp"}
    assert lits("contains_any(das.sql, ['UTL_HTTP', `1`])") is None
    assert lits("imatches(dbUserName, 'pg_sleep')") is None  # not the SQL text
    assert required_literals(
        compile_expr("contains_any(das.sql, 'exfil')").compiled.parsed,
        {"exfil": ["INTO OUTFILE", "aws_s3"]},
    ) == {"into outfile", "aws_s3"}


FRAGMENTS = [
    "select ", "SELECT ", "from ", "pg_read_file", "PG_READ_FILE(", "pg_read", "_file", "copy ",
    "COPY", "C0PY", "program ", "'", "(", ")", "/*", "*/", "--", "\n", " ", ";", "xp_cmdshell",
    "xp_", "cmdshell", "information_schema", "pg_catalog", "union ", "sleep(", "pg_sleep(",
    "utl_http", "dblink(", "into outfile ", "s3://", "lo_export", "drop table ", "where ", "1=1",
    "grant ", "superuser", "ſ", "K", "é", "sys.", "show tables", "load_file(", "@@version",
]  # fmt: skip

texts = st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=texts)
def test_every_match_of_a_pack_pattern_contains_one_of_its_literals(text: str) -> None:
    for rule_id, pattern in PATTERNS:
        literals = regex_literals(pattern)
        if literals is None or not text.isascii():
            continue
        if re.search(pattern, text, re.IGNORECASE):
            assert any(lit in text.lower() for lit in literals), (rule_id, pattern, text)


ENGINES = ["postgres", "mysql", "oracle", "sqlserver"]


@settings(max_examples=300, deadline=None)
@given(
    engine=st.sampled_from(ENGINES),
    text=texts,
    user=st.sampled_from(["app", "mallory", "rdsadmin", "etl"]),
    command=st.sampled_from(["QUERY", "SELECT", "EXECUTE", "COPY", "CREATE TABLE"]),
)
def test_prefiltered_ruleset_matches_exactly_what_plain_evaluation_matches(
    engine: str, text: str, user: str, command: str
) -> None:
    raw = base_event(engine)
    raw.update({"commandText": text, "dbUserName": user, "command": command})
    event = normalize(raw)
    got = {m.rule.id for m in WHEN_ONLY.evaluate(event)}
    plain = {r.id for r in WHEN_ONLY.rules if is_true(WHEN_ONLY.search(r.when, event))}
    assert got == plain
