"""``dasalert coverage [PATHS]``: the ATT&CK technique × engine matrix of a rule pack."""

from __future__ import annotations

import argparse
import sys

NAME = "coverage"
HELP = "print the ATT&CK technique x engine coverage of the rules, proved by their tests"
DESCRIPTION = (
    "Print which MITRE ATT&CK techniques the rules detect on which engine. A rule counts for an "
    "engine only if one of its positive inline tests runs on that engine and passes, so the "
    "matrix is backed by the tests, not by the tags alone. --format markdown prints the "
    "document docs/coverage.md is generated from. Exit 1 when a rule file does not load."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        help="rule files or directories (default: ./rules, else the installed starter pack)",
    )
    parser.add_argument("--lists", help="lists.yaml (default: beside the rules)")
    parser.add_argument(
        "--format",
        choices=("table", "markdown"),
        default="table",
        help="table: rules per cell as counts; markdown: the rule ids per cell (docs/coverage.md)",
    )


def run(args: argparse.Namespace) -> int:
    from engine.cli.pack import default_rules_path
    from engine.rules.lang.loader import load_rules
    from engine.rules.testing.coverage import build_coverage, markdown_document

    args.paths = args.paths or [default_rules_path()]
    loaded = load_rules(args.paths, lists_path=args.lists)
    errors = [p for p in loaded.problems if p.level == "error"]
    for problem in errors:
        print(problem, file=sys.stderr)
    if errors or not loaded.rules:
        if not errors:
            print(f"no rules found in {', '.join(args.paths)}", file=sys.stderr)
        return 1
    coverage = build_coverage(loaded.rules, loaded.lists, loaded.params)
    if args.format == "markdown":
        sys.stdout.write(markdown_document(coverage))
    else:
        print(coverage.render_table())
    return 0
