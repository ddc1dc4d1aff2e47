"""A rule regex runs with a time budget: a pattern that backtracks on attacker text becomes a
rule error for that event, not a stalled invocation."""

from __future__ import annotations

import threading

import pytest

from engine.rules.lang.expr import compile_expr
from engine.rules.model import Rule
from engine.rules.runtime.functions import RegexBudgetExceeded, make_options, timed_search
from engine.rules.runtime.ruleset import RuleSet

# Cubic on "grant grant grant …": seconds on 64 KiB with no budget.
SLOW = r"(?i)grant\s+.*\s+to\s+.*public"
HOSTILE = "grant " * (256 * 1024 // 6)


def test_a_backtracking_regex_is_stopped_by_its_budget() -> None:
    import re

    with pytest.raises(RegexBudgetExceeded, match="budget"):
        timed_search(re.compile(SLOW), HOSTILE, budget_s=0.05)


def test_a_fast_regex_answers_normally() -> None:
    import re

    assert timed_search(re.compile(r"grant\s+all"), "GRANT ALL".lower(), budget_s=0.05)
    assert not timed_search(re.compile(r"drop"), HOSTILE, budget_s=0.05)


def test_the_timer_is_disarmed_after_a_search() -> None:
    import re
    import signal

    timed_search(re.compile("x"), "x" * 5000, budget_s=0.05)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_outside_the_main_thread_the_value_is_cut_instead() -> None:
    import re

    found: list[object] = []
    value = "a" * (2 * 1024 * 1024) + "needle"
    thread = threading.Thread(
        target=lambda: found.append(timed_search(re.compile("needle"), value, budget_s=0.05))
    )
    thread.start()
    thread.join()
    assert found == [False]  # past the cut: not seen, but answered


def test_a_rule_whose_regex_runs_out_of_time_is_a_rule_error() -> None:
    rule = Rule(
        id="slow", title="t", severity="low", when=compile_expr(f"imatches(commandText, '{SLOW}')")
    )
    ok = Rule(id="ok", title="t", severity="low", when=compile_expr("commandText != null"))
    # the text holds the pattern's rarest literal ("public"), so the SQL prefilter lets the
    # regex run (without it the rule cannot match and is skipped: no error either)
    evaluation = RuleSet([rule, ok], {}, {}, options=make_options()).evaluate_all(
        {"commandText": HOSTILE + "public", "das": {"action": "READ"}}
    )
    assert [m.rule.id for m in evaluation.matches] == ["ok"]
    [error] = evaluation.errors
    assert error.rule.id == "slow" and "RegexBudgetExceeded" in str(error.error)


def test_regex_findall_runs_under_the_same_budget() -> None:
    rule = Rule(
        id="slow-findall",
        title="t",
        severity="low",
        when=compile_expr(f"length(regex_findall(commandText, '{SLOW}')) > `0`"),
    )
    evaluation = RuleSet([rule], {}, {}, options=make_options()).evaluate_all(
        {"commandText": HOSTILE, "das": {"action": "READ"}}
    )
    [error] = evaluation.errors
    assert "RegexBudgetExceeded" in str(error.error)


def test_regex_findall_on_a_long_value_still_finds_every_match() -> None:
    value = "x" * 10_000 + " s3://bucket-a " + "y" * 10_000 + " s3://bucket-b"
    options = make_options()
    found = compile_expr("regex_findall(v, 's3://([a-z-]+)')").compiled.search(
        {"v": value}, options=options
    )
    assert found == ["bucket-a", "bucket-b"]


def _whole_value_only(pattern, value) -> bool:
    from engine.rules.runtime import functions

    return functions._timed(pattern, value, 0.05, lambda v, end: pattern.search(v, 0, end))


def test_padding_after_a_match_cannot_turn_it_into_an_error() -> None:
    import re

    # greedy: runs to the end of the padding, then backtracks over every " POLICY x"
    pattern = re.compile(r"(?s)NOAUDIT\b.*\bPOLICY\s+\w+;")
    padded = "NOAUDIT POLICY ora_secureconfig;" + " POLICY x" * (4 * 1024 * 1024)
    with pytest.raises(RegexBudgetExceeded):
        _whole_value_only(pattern, padded)
    assert timed_search(pattern, padded, budget_s=0.05)
    with pytest.raises(RegexBudgetExceeded):
        timed_search(re.compile(SLOW), HOSTILE, budget_s=0.05)  # no match in the head: unknown
