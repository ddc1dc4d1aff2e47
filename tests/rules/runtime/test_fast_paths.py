"""The rule set's fast paths never change an answer: the whole shipped pack, differentially.

``RuleSet.evaluate`` takes shortcuts (the action index, guard tables, one SQL scan for every
signature rule, compiled predicates, cached network answers). Each is only allowed to skip
work. These tests hold the whole shipped pack, ``unless`` exceptions included, to a plain
evaluation — every rule's ``when`` and ``unless`` run by the interpreter on every event — over
generated events (hypothesis), the real captured events, and a realistic generated stream.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import base_event, normalize
from engine.rules import RuleSet, build_engine
from engine.rules.runtime.prefilter import SqlScan, is_word_literal
from engine.rules.runtime.ruleset import event_date, is_true

ROOT = Path(__file__).resolve().parents[3]
WIRED = build_engine(ROOT / "rules")
PACK = WIRED.ruleset
LITERALS = sorted({lit for lits in PACK.prefiltered.values() if lits for lit in lits})


def plain(ruleset: RuleSet, event: dict[str, Any]) -> list[str]:
    """The rules matching ``event``, interpreted one by one: no index, no compiled code."""
    found = []
    day = event_date(event)
    for rule in ruleset.rules:
        try:
            if not is_true(ruleset.search(rule.when, event)):
                continue
            if any(
                (x.expires is None or (day is not None and x.active(day)))
                and is_true(ruleset.search(x.when, event))
                for x in rule.unless
            ):
                continue
        except Exception:
            continue
        found.append(rule.id)
    return found


def fast(ruleset: RuleSet, event: dict[str, Any]) -> list[str]:
    return [m.rule.id for m in ruleset.evaluate(copy.deepcopy(event))]


# -- the SQL scan --------------------------------------------------------------------------

# pack literals cut in pieces and glued to their neighbours, digits, case, punctuation
PIECES = [
    *LITERALS,
    *(lit[: len(lit) // 2] for lit in LITERALS),
    *(lit[len(lit) // 2 :].upper() for lit in LITERALS),
    "select ", "SELECT ", " from ", "x", "_", "$", "0", "4", "17", "'", ".", "@", " ", "\n",
    "(", ")", ";", "--", "/*", "*/", "Spare4", "SPARE5", "spare", "java.lang", ".runtime",
]  # fmt: skip
sql_texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(sql_texts, min_size=1, max_size=6), cache_max=st.sampled_from([1, 3, 1000]))
def test_the_scan_finds_every_literal_the_sql_holds(texts: list[str], cache_max: int) -> None:
    scan = SqlScan(frozenset(LITERALS), cache_max=cache_max)
    for text in texts * 2:  # the second round answers from the run cache
        event = {"commandText": text, "das": {"sql": text}}
        present = scan.present(event)
        assert present is not None
        assert {lit for lit in LITERALS if lit in text.lower()} <= present, text


def test_long_runs_are_searched_but_never_cached() -> None:
    scan = SqlScan(frozenset({"pg_read_file"}))
    run = "x" * 5000 + "pg_read_file" + "y" * 5000
    for _ in range(2):
        assert scan.present({"das": {"sql": run}}) == {"pg_read_file"}
    assert scan._runs == {}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"das": {"sql": "SELECT 1"}}, frozenset()),
        ({"das": {"sql": None}, "commandText": "select pg_read_file('x')"}, {"pg_read_file"}),
        ({"das": {"sql": "select 1"}, "commandText": "select 1"}, frozenset()),
        ({"das": {"sql": "select 1"}, "commandText": "select pg_read_file"}, None),  # differ
        ({"das": {"sql": "ſelect pg_read_file"}}, None),  # Unicode: evaluate exactly
        ({"das": {"sql": ["pg_read_file"]}}, None),  # not text: a list `contains` searches
        ({"das": {"sql": "select 1"}, "commandText": ["x"]}, None),
        ({"das": "oops", "commandText": "select 1"}, None),
        ({"commandText": "PG_READ_FILE"}, {"pg_read_file"}),
        ({}, frozenset()),
        ({"das": {}}, frozenset()),
    ],
)
def test_what_the_scan_reads(event: dict[str, Any], expected: Any) -> None:
    assert SqlScan(frozenset({"pg_read_file"})).present(event) == expected


def test_word_literals() -> None:
    assert is_word_literal("pg_read_file") and is_word_literal("user$")
    assert not is_word_literal("pgaudit.") and not is_word_literal("'") and not is_word_literal("")


# -- the whole pack against plain evaluation ----------------------------------------------

ENGINES = ["postgres", "mysql", "oracle", "sqlserver"]
HOSTS = [
    "10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.3.3", "127.0.0.1", "169.254.1.1",
    "203.0.113.7", "8.8.8.8", "45.83.12.9", "::1", "fe80::1", "fd00::5", "2001:db8::1",
    "2600:1f18::9", "[2600:1f18::9]:5432", "::ffff:8.8.8.8", "::ffff:10.0.0.1", "8.8.8.8:5432",
    "010.1.2.3", "1.2.3", "256.1.1.1", " 8.8.8.8 ", "8.8.8.8\n", "local machine", "localhost",
    "123.456.789.012", "", "１.２.３.４", "0.0.0.0", "255.255.255.255", "9.9.9.9",
]  # fmt: skip
USERS = ["app", "mallory", "rdsadmin", "RDSADMIN", "rdsa", "etl_loader", "admin", "flyway", ""]
ACTIONS_RAW = [
    "QUERY", "SELECT", "CONNECT", "DISCONNECT", "EXECUTE", "COPY", "CREATE TABLE", "GRANT",
    "LOGIN FAILED", "DELETE", "UPDATE", "CREATE ROLE", "ALTER ROLE",
]  # fmt: skip
CLIENTS = [None, "psql", "pg_dump", "mysqldump", " bcp", "SQLPackage", "expdp", "DBeaver", "x"]
ROWS = [None, 0, 1, 5, 150, 100_000, 10_000_000, "12", -1]
CLASSES = [None, "MAIN", "AUX", "READ", "WRITE", "DDL", "ROLE", "MISC", "FUNCTION"]
TIMES = ["2026-01-05 09:00:00.000000+00", "2026-01-10 23:30:00.000000+00", None, "garbage"]
NON_ASCII = ["ſ", "K", "é", "İ", "ß", "\u200b"]
texts = st.one_of(
    sql_texts,
    st.lists(st.sampled_from(PIECES + NON_ASCII), max_size=10).map("".join),
    st.sampled_from([None, "", "   "]),
)


class _Action(str):
    pass


def _raw(engine: str, fields: dict[str, Any]) -> dict[str, Any]:
    raw = base_event(engine)
    raw.update(fields)
    return raw


@settings(max_examples=500, deadline=None)
@given(
    engine=st.sampled_from(ENGINES),
    text=texts,
    user=st.sampled_from(USERS),
    host=st.sampled_from(HOSTS),
    command=st.sampled_from(ACTIONS_RAW),
    cls=st.sampled_from(CLASSES),
    client=st.sampled_from(CLIENTS),
    rows=st.sampled_from(ROWS),
    when=st.sampled_from(TIMES),
    code=st.sampled_from([None, "0", "1", 0, 1, "42501", 1045, "ORA-01031"]),
    tweak=st.sampled_from(
        ["none", "differ", "sql-null", "list", "no-das-sql", "int-action", "str-subclass"]
    ),
)
def test_the_pack_matches_exactly_what_plain_evaluation_matches(
    engine: str,
    text: str | None,
    user: str,
    host: str,
    command: str,
    cls: str | None,
    client: str | None,
    rows: Any,
    when: str | None,
    code: Any,
    tweak: str,
) -> None:
    event = normalize(
        _raw(
            engine,
            {
                "commandText": text,
                "dbUserName": user,
                "remoteHost": host,
                "command": command,
                "class": cls,
                "clientApplication": client,
                "rowCount": rows,
                "logTime": when,
                "exitCode": code,
            },
        )
    )
    # shapes normalize never produces, which the fast paths must still answer exactly
    if tweak == "differ":
        event["commandText"] = "select pg_sleep(10) -- " + (text or "")
    elif tweak == "sql-null":
        event["das"]["sql"] = None
    elif tweak == "list":
        event["das"]["sql"] = ["pg_read_file", text]
    elif tweak == "no-das-sql":
        del event["das"]["sql"]
    elif tweak == "int-action":
        event["das"]["action"] = 1
    elif tweak == "str-subclass":  # not a plain str: the buckets without settled action tests
        event["das"]["action"] = _Action(event["das"]["action"] or "")
    assert fast(PACK, event) == plain(PACK, event)


def _real_events() -> list[dict[str, Any]]:
    out = []
    for path in sorted((ROOT / "tests" / "events" / "real_events").glob("*.json")):
        try:
            raw = json.loads(path.read_text())
        except ValueError:
            continue  # a verbatim sample that is not valid JSON (its repaired twin is)
        try:
            out.append(normalize(raw))
        except Exception:
            continue  # a record, not an event
    return out


REAL = _real_events()


def test_real_events_match_exactly_what_plain_evaluation_matches() -> None:
    assert len(REAL) >= 20
    for event in REAL:
        assert fast(PACK, event) == plain(PACK, event), event.get("commandText")


def test_a_generated_stream_matches_exactly_what_plain_evaluation_matches() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.evaluate import make_events
    finally:
        sys.path.remove(str(ROOT))
    events = make_events(3000, 11)
    found = 0
    for event in events:
        expected = plain(PACK, event)
        assert fast(PACK, event) == expected
        found += len(expected)
    assert found > 100  # the stream makes the pack fire: the comparison is not vacuous


def test_non_ascii_sql_is_evaluated_exactly() -> None:
    # "ſ" folds to "s" under IGNORECASE: a lower-cased substring test would miss this
    event = normalize(_raw("postgres", {"commandText": "SELECT pg_ſleep(10)", "command": "QUERY"}))
    expected = plain(PACK, event)
    assert "sqli-time-based" in expected
    assert fast(PACK, event) == expected


# -- compiled calls: contains on a literal list, cidr_match on a literal spec ---------------

NETS = {
    "internal_nets": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                      "127.0.0.0/8", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"],
    "one": ["203.0.113.0/24"],
    "junk": ["not a net", "10.0.0.0/33", 5],
}  # fmt: skip
SPECS = ["internal_nets", "one", "junk", "10.0.0.0/8", "8.8.8.8", "nope", "::/0", "0.0.0.0/0"]
octets = st.one_of(
    st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "0x1", "", " 1", "٣"])
)
addresses = st.one_of(
    st.sampled_from(HOSTS),
    st.tuples(octets, octets, octets, octets).map(".".join),
    st.tuples(
        st.tuples(octets, octets, octets, octets).map(".".join),
        st.sampled_from(["", ":5432", ":", ":x", " ", "\t", "]", "[", ":1:2"]),
        st.sampled_from(["", " ", "["]),
    ).map(lambda t: t[2] + t[0] + t[1]),
    st.text(alphabet="0123456789abcdef:.[] ", max_size=20),
)


@settings(max_examples=1000, deadline=None)
@given(ips=st.lists(addresses, min_size=1, max_size=5), spec=st.sampled_from([*SPECS, SPECS]))
def test_the_cidr_matcher_answers_as_the_function_does(ips: list[str], spec: Any) -> None:
    from engine.rules.runtime.functions import DasFunctions

    functions = DasFunctions(NETS, {})
    match = functions.cidr_matcher(spec)
    for ip in ips * 2:  # the second round answers from its cache
        assert match(ip) is DasFunctions(NETS, {})._func_cidr_match(ip, spec), (ip, spec)


CALLS = [
    "contains(['READ', 'WRITE', `1`, `1.5`, `true`, `null`], x)",
    'contains(`["READ", 2]`, x)',
    "contains(['READ', `[1]`], x)",  # an unhashable member: the generic call
    "cidr_match(x, 'internal_nets')",
    "cidr_match(x, ['0.0.0.0/0', '::/0'])",
    'cidr_match(x, `["one", "10.0.0.0/8"]`)',
    "cidr_match(@, ['0.0.0.0/0'])",
    "contains(['a'], @)",
    "!contains(['READ'], x)",
    "!cidr_match(x, 'internal_nets')",
    "!cidr_match(x, ['0.0.0.0/0'])",
    "in_list(x, 'junk')",
    "!in_list(x, 'junk')",
    "!in_list(x, 'nope')",
    "in_list_ci(x, 'letters')",
    "!in_list_ci(x, 'letters')",
    "aws_internal_user(@)",
    "!aws_internal_user(@)",
    "!aws_internal_user(x)",
    "matches(x, 'READ')",
    "!matches(x, 'READ')",
    "imatches(x, '^re.d')",
    "!imatches(x, '^re.d')",
    "imatches(x, '(')",  # a bad pattern: the function's own answer (false), not an error
    "!imatches(x, '(')",
    "x && y && !z",
    "(x && y) && (z && x)",
    "x || y || z",
    "(x || !y) || (z || `0`)",
    "!x",
    "!!x",
]
CALL_VALUES = [None, True, False, 0, 1, 1.0, 1.5, 2, 5, 5.0, "5", "READ", "read", "", "Ab", "aB",
               "K", "k", [1], [], {"k": 1}, {}, float("nan"), "10.1.2.3", "8.8.8.8",
               "203.0.113.9", "fd00::1", "READ" + "x" * 5000, "x" * 5000]  # fmt: skip
INTERNAL = [
    {"dbUserName": "rdsadmin", "das": {"engine": "postgres"}},
    {"dbUserName": "RDSADMIN", "das": {"engine": "postgres"}},
    {"dbUserName": "RDSADMIN", "das": {"engine": "oracle"}},
    {"dbUserName": "rdsa", "das": {"engine": "sqlserver"}},
    {"dbUserName": "rdsadmin", "das": "postgres"},
    {"dbUserName": 1, "das": {"engine": "mysql"}},
]


def test_compiled_calls_answer_as_the_interpreter_does() -> None:
    from engine.rules.lang.expr import compile_expr
    from engine.rules.runtime.compiled import compile_node
    from engine.rules.runtime.functions import make_options
    from engine.rules.runtime.interpreter import SafeInterpreter

    interp = SafeInterpreter(make_options({**NETS, "letters": ["Ab", "K"]}, {}))
    inputs: list[Any] = [*({"x": v} for v in CALL_VALUES), *CALL_VALUES, {}, *INTERNAL]
    inputs += [{"x": a, "y": b, "z": c} for a in CALL_VALUES[:8] for b in CALL_VALUES[:8]
               for c in (None, 0, "", "z")]  # fmt: skip
    inputs += [{"x": event} for event in INTERNAL]
    for src in CALLS:
        parsed = compile_expr(src).compiled.parsed
        fn = compile_node(parsed, interp)
        for value in inputs:
            want = interp.visit(parsed, value)
            got = fn(value)
            assert (type(got), got) == (type(want), want), (src, value)


def test_pinning_the_action_settles_only_the_top_level_tests() -> None:
    from engine.rules.lang.expr import compile_expr
    from engine.rules.runtime.compiled import pin_action

    def pinned(src: str, action: str) -> Any:
        return pin_action(compile_expr(src).compiled.parsed, action)

    got = pinned("contains(['READ', 'WRITE'], das.action) && das.action != 'DDL' && x", "READ")
    assert got["children"][0]["children"] == [
        {"type": "literal", "value": True},
        {"type": "literal", "value": True},
    ]
    assert pinned("das.action == 'DDL' && x", "READ")["children"][0]["value"] is False
    # inside a filter `das.action` is an element's, not the event's: left alone
    src = "items[?das.action == 'READ'] && x"
    assert pinned(src, "READ") is compile_expr(src).compiled.parsed
    src = "das.action == 'READ' || x"  # not a conjunct: left alone
    assert pinned(src, "READ") is compile_expr(src).compiled.parsed
