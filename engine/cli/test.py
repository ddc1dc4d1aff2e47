"""``dasalert test [PATHS]``: run rules' inline tests; pytest-like report; exit 1 on failure."""

from __future__ import annotations

import argparse
import sys
from typing import Any

NAME = "test"
HELP = "run the inline tests of rules through the production engine"
DESCRIPTION = (
    "Run every rule's inline `tests:` through the same Engine the Lambda uses (one rule at a "
    "time, fresh state per test) and print a pytest-like report. Exit 1 when a test fails, a "
    "rule file does not load, or (with --min-tests) a rule lacks a positive and a negative test."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        help="rule files or directories (default: ./rules, else the installed starter pack)",
    )
    parser.add_argument("--lists", help="lists.yaml (default: beside the rules)")
    parser.add_argument(
        "--min-tests",
        action="store_true",
        help="fail every rule that lacks a positive (match: true) and a negative test",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="TEXT",
        help="only tests whose rule id or test name contains TEXT (ignoring case)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="list failures only")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="per test event: each &&/|| operand of when/unless with its value, the dedup "
        "window or threshold count, and the alerts with their times",
    )


def run(args: argparse.Namespace) -> int:
    from engine.cli.pack import default_rules_path
    from engine.rules.lang.loader import load_rules
    from engine.rules.testing.runner import run_tests

    args.paths = args.paths or [default_rules_path()]
    loaded = load_rules(args.paths, lists_path=args.lists)
    errors = [p for p in loaded.problems if p.level == "error"]
    if not loaded.rules and not errors:
        where = ", ".join(args.paths)
        print(f"no rules found in {where}", file=sys.stderr)
        return 1
    report = run_tests(
        loaded.rules,
        loaded.lists,
        loaded.params,
        problems=errors,
        min_tests=args.min_tests,
        keyword=args.keyword,
        explain=args.explain,
        warnings=_lint_warnings(loaded),
    )
    if args.keyword and not report.outcomes and not errors:
        print(f"no test matches -k {args.keyword!r}", file=sys.stderr)
        return 1
    print(report.render(verbose=not args.quiet))
    return 0 if report.ok else 1


def _lint_warnings(loaded: Any) -> list[Any]:
    """Lint's warnings, shown next to a failing test: a test that fails because of a misspelt
    field says so there, not only in a separate `dasalert lint` run."""
    import datetime as dt

    from engine.rules.lint.run import lint_result

    try:
        report = lint_result(loaded, today=dt.datetime.now(dt.UTC).date())
    except Exception:  # advice must never stop the tests
        return []
    return report.warnings
