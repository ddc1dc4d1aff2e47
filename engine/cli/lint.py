"""``dasalert lint [PATHS]``: check rule files, print every problem, exit 1 on errors."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from engine.rules.lint.run import lint

NAME = "lint"
HELP = "check rule files: schema, expressions, lists, tests, advice"
DESCRIPTION = (
    "Validate rule files and report every problem at once as `file:line: [rule-id] level: "
    "message — suggestion`. Exit 1 when there is an error (or a warning, with --strict)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        help="rule files or directories (default: ./rules, else the installed starter pack)",
    )
    parser.add_argument("--lists", help="lists.yaml (default: beside the rules)")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, help="date for `expires` checks (YYYY-MM-DD)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print the summary only")


def run(args: argparse.Namespace) -> int:
    from engine.cli.pack import default_rules_path

    args.paths = args.paths or [default_rules_path()]
    today = args.today or dt.datetime.now(dt.UTC).date()
    report = lint(args.paths, lists_path=args.lists, today=today)
    out = sys.stdout
    if not args.quiet:
        for problem in report.problems:
            print(problem, file=out)
    result = report.result
    if result.tunes and not args.quiet:
        # the effective pack: what each tune entry did, so an expired or mistyped one shows
        print("tunes:", file=out)
        for status in result.tunes:
            print(f"  {status}", file=out)
        if result.disabled:
            print(f"  disabled: {', '.join(result.disabled)}", file=out)
    print(report.summary(), file=out)
    if report.errors or (args.strict and report.warnings):
        return 1
    return 0
