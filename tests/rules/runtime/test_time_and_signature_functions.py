"""hour / weekday / in_hours with IANA zones, regex_extract, ip_prefix, matches_any and named
lists as pattern lists: results, totality, and the load-time checks with a suggested fix."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.rules.lang.loader import load_rule_text
from engine.rules.runtime.functions import make_options
from engine.rules.runtime.helpers import parse_hours

LISTS = {"exfil_keywords": ["into outfile", "pg_read_file"], "exfil_patterns": [r"into\s+outfile"]}
OPTIONS = make_options(LISTS, {})


def jp(expr: str, event: Any) -> Any:
    return jmespath.search(expr, event, options=OPTIONS)


# 2026-07-06 is a Monday; Paris is UTC+2 in summer, UTC+1 in winter
SUMMER = {"das": {"time": "2026-07-06T05:30:00.000000Z", "epoch": 1783315800.0}}
WINTER = {"das": {"time": "2026-01-05T06:30:00Z"}}
SUNDAY_NIGHT = {"das": {"time": "2026-07-05T22:30:00Z"}}  # Monday 00:30 in Paris


@pytest.mark.parametrize(
    ("expr", "event", "want"),
    [
        ("hour(das.time, 'Europe/Paris')", SUMMER, 7),
        ("hour(das.time, 'Europe/Paris')", WINTER, 7),
        ("hour(das.epoch, 'UTC')", SUMMER, 5),
        ("weekday(das.time, 'Europe/Paris')", SUNDAY_NIGHT, 1),
        ("weekday(das.time, 'UTC')", SUNDAY_NIGHT, 7),
        ("in_hours(das.time, 'mon-fri 07:00-19:00', 'Europe/Paris')", SUMMER, True),
        ("in_hours(das.time, 'mon-fri 07:00-19:00', 'UTC')", SUMMER, False),
        ("in_hours(das.time, 'mon-fri 07:00-19:00', 'Europe/Paris')", SUNDAY_NIGHT, False),
        ("in_hours(das.time, 'sun 22:00-06:00', 'UTC')", SUNDAY_NIGHT, True),  # overnight
        ("in_hours(das.time, 'fri-mon 00:00-24:00', 'Europe/Paris')", SUNDAY_NIGHT, True),
        ("hour(das.missing, 'UTC')", SUMMER, None),
        ("hour('not a time', 'UTC')", SUMMER, None),
    ],
)
def test_time_functions(expr: str, event: dict, want: Any) -> None:
    assert jp(expr, event) == want


SQL = {"das": {"sql": "SELECT * FROM t INTO OUTFILE '/tmp/dump.csv'"}, "remoteHost": "10.1.2.3"}


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        (r"regex_extract(das.sql, 'outfile\s+\'([^\']+)\'')", "/tmp/dump.csv"),
        ("regex_extract(das.sql, 'into outfile')", "INTO OUTFILE"),  # no group: the match
        (r"regex_extract(das.sql, '(into)\s+(outfile)', `2`)", "OUTFILE"),
        ("regex_extract(das.sql, '(into)', `3`)", None),  # no such group
        ("regex_extract(das.sql, 'nothing')", None),
        ("regex_extract(remoteHost, '(\\d+)$', `1`)", "3"),
        ("ip_prefix(remoteHost, `24`)", "10.1.2.0/24"),
        ("ip_prefix('[2001:db8::1]', `64`)", "2001:db8::/64"),
        ("ip_prefix(remoteHost, `33`)", None),
        ("ip_prefix('local machine', `24`)", None),
        ("contains_any(lower(das.sql), 'exfil_keywords')", True),
        ("contains_any(lower(das.sql), ['pg_read_file'])", False),
        ("matches_any(das.sql, 'exfil_patterns')", False),  # case-sensitive
        ("imatches_any(das.sql, 'exfil_patterns')", True),
        ("matches_any(das.sql, ['INTO\\s+OUTFILE'])", True),
    ],
)
def test_signature_helpers(expr: str, want: Any) -> None:
    assert jp(expr, SQL) == want


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@given(a=JSON, b=JSON, c=JSON)
def test_every_new_function_is_total(a: Any, b: Any, c: Any) -> None:
    fns = OPTIONS.custom_functions
    for name, args in [
        ("hour", [a, b]),
        ("weekday", [a, b]),
        ("in_hours", [a, b, c]),
        ("regex_extract", [a, b]),
        ("regex_extract", [a, b, c]),
        ("ip_prefix", [a, b]),
        ("matches_any", [a, b]),
        ("imatches_any", [a, b]),
        ("contains_any", [a, b]),
    ]:
        fns.call_function(name, args)  # never raises, whatever the event holds


@pytest.mark.parametrize(
    "spec", ["mon-fri 07:00-19:00", "sat 09:00-12:00, sun 10:00-11:00", "22:00-06:00"]
)
def test_hours_specs_parse(spec: str) -> None:
    assert parse_hours(spec)


RULE = """
id: r
title: t
severity: low
when: "{when}"
"""


@pytest.mark.parametrize(
    ("when", "needle", "hint"),
    [
        ("hour(das.time, 'Europe/Pariss') == `9`", "unknown time zone", "Europe/Paris"),
        ("in_hours(das.time, 'mon-fry 07:00-19:00', 'UTC')", "is not `[day[-day]]", "mon-fri"),
        ("in_hours(das.time, 'mon-fri 07:00-25:00', 'UTC')", "not on the clock", None),
        ("matches_any(das.sql, 'exfil_pattern')", "is no list", "exfil_patterns"),
        ("matches_any(das.sql, ['(unclosed'])", "bad regex", None),
        ("regex_extract(das.sql, 'a', `1`, `2`) != null", "takes 2 to 3 argument", None),
        ("hour(das.time, tz) == `1`", "must be a literal tz", "quote it"),
    ],
)
def test_bad_arguments_are_load_errors_with_a_fix(when: str, needle: str, hint: str | None) -> None:
    lists = {**LISTS, "bad_patterns": ["ok", "(oops"]}
    rule, problems, _ = load_rule_text(RULE.format(when=when), "r.yaml", lists, {})
    assert rule is None
    found = [p for p in problems if needle in p.message]
    assert found, [str(p) for p in problems]
    assert found[0].line == 5
    if hint:
        assert hint in (found[0].suggestion or "") + found[0].message


def test_a_bad_regex_in_a_named_list_is_caught_when_the_rule_loads() -> None:
    lists = {"bad_patterns": ["ok", "(oops"]}
    text = RULE.format(when="matches_any(das.sql, 'bad_patterns')")
    rule, problems, _ = load_rule_text(text, "r.yaml", lists, {})
    assert rule is None and any("in list `bad_patterns`" in p.message for p in problems)


def test_time_zones_work_without_the_systems_zone_files() -> None:
    """Lambda images may have no /usr/share/zoneinfo: the tzdata dependency must be enough."""
    import os
    import subprocess
    import sys

    code = (
        "import zoneinfo, datetime as dt; "
        "print(dt.datetime(2026, 7, 6, 5, tzinfo=dt.UTC).astimezone("
        "zoneinfo.ZoneInfo('Europe/Paris')).hour)"
    )
    env = {**os.environ, "PYTHONTZPATH": ""}  # no system zone directory at all
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "7", out.stderr
