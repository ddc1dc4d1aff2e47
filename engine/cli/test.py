"""``dasalert test [PATHS]``: run rules' inline tests; pytest-like report; exit 1 on failure."""

from __future__ import annotations

import argparse
import sys

NAME = "test"
HELP = "run the inline tests of rules through the production engine"
DESCRIPTION = (
    "Run every rule's inline `tests:` through the same Engine the Lambda uses (one rule at a "
    "time, fresh state per test) and print a pytest-like report. Exit 1 when a test fails, a "
    "rule file does not load, or (with --min-tests) a rule lacks a positive and a negative test."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["rules"], help="rule files or directories")
    parser.add_argument("--lists", help="lists.yaml (default: beside the rules)")
    parser.add_argument(
        "--min-tests",
        action="store_true",
        help="fail every rule that lacks a positive (match: true) and a negative test",
    )
    parser.add_argument("-k", dest="rule", help="only rules whose id contains this text")
    parser.add_argument("-q", "--quiet", action="store_true", help="list failures only")


def run(args: argparse.Namespace) -> int:
    from engine.rules.lang.loader import load_rules
    from engine.rules.testing.runner import run_tests

    loaded = load_rules(args.paths, lists_path=args.lists)
    rules = [r for r in loaded.rules if not args.rule or args.rule in r.id]
    errors = [p for p in loaded.problems if p.level == "error"]
    if not rules and not errors:
        where = ", ".join(args.paths)
        print(f"no rules found in {where}", file=sys.stderr)
        return 1
    report = run_tests(
        rules, loaded.lists, loaded.params, problems=errors, min_tests=args.min_tests
    )
    print(report.render(verbose=not args.quiet))
    return 0 if report.ok else 1
