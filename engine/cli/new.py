"""``dasalert new RULE-ID``: write a working rule file and its runbook stub to edit from."""

from __future__ import annotations

import argparse
import os
import sys

NAME = "new"
HELP = "scaffold a rule: a rule file with tests per engine and a runbook stub"
DESCRIPTION = (
    "Write RULES/RULE-ID.yaml — a complete rule with, for each chosen engine, a test that "
    "matches and a near-miss test that must not — and RULES/runbooks/RULE-ID.md. The result "
    "passes `dasalert lint` and `dasalert test` as written; edit `when`, the title and the "
    "tests from there. Exit 2 on a bad id or engine, or when a file exists (without --force)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule_id", metavar="RULE-ID", help="kebab-case id, e.g. pg-copy-program")
    parser.add_argument(
        "--engine",
        action="append",
        metavar="ENGINE",
        help="postgres, mysql, oracle, sqlserver or all; repeat or comma-separate "
        "(default: all four)",
    )
    parser.add_argument(
        "--rules",
        metavar="DIR",
        default=None,
        help="rules directory to write into (default: $DASALERT_RULES or ./rules)",
    )
    parser.add_argument("--severity", default="medium", help="info, low, medium, high, critical")
    parser.add_argument(
        "--kind",
        default="statement",
        choices=("statement", "threshold", "sequence"),
        help="statement: one event matches (default); threshold: N events per group in a "
        "window; sequence: ordered steps by one key",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument(
        "--stdout", action="store_true", help="print the rule file instead of writing anything"
    )


def run(args: argparse.Namespace) -> int:
    from engine.rules.testing.scaffold import ScaffoldError, scaffold, write

    rules_dir = args.rules or os.environ.get("DASALERT_RULES") or "rules"
    try:
        sc = scaffold(args.rule_id, rules_dir, args.engine, severity=args.severity, kind=args.kind)
        if args.stdout:
            sys.stdout.write(sc.rule_text)
            return 0
        written = write(sc, force=args.force)
    except ScaffoldError as exc:
        print(f"dasalert new: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"dasalert new: cannot write: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"next: edit {sc.rule_file}, then")
    print(f"  dasalert lint {rules_dir} && dasalert test {rules_dir} -k {args.rule_id}")
    return 0
