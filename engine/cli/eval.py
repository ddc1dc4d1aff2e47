"""``dasalert eval FILE…``: run the rules over captured events and print the alerts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from engine.cli._input import add_input_arguments, decoder_options, key_provider

NAME = "eval"
HELP = "evaluate the rules over captured activity events and print the alerts"
DESCRIPTION = (
    "Evaluate rules over activity events read from files ('-' is standard input): single JSON "
    "events, JSON lines (e.g. `dasalert decode` output), arrays, decrypted "
    "DatabaseActivityMonitoringRecord envelopes, or encrypted Kinesis/Firehose events and raw "
    "record payloads (decrypted with --local-key, else AWS KMS). Dedup and thresholds run in "
    "event time exactly as in the Lambda. Alerts go to standard output as a table or, with "
    "--format json, one JSON object per line; a summary goes to standard error. Exit 0 even "
    "when there are alerts; 1 when a rule file does not load or an input cannot be read."
)

_SEVERITY_COL = 8
_RULE_COL_MAX = 32


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--rules", default="rules", metavar="PATH", help="rules (default ./rules)")
    parser.add_argument("--lists", metavar="PATH", help="lists.yaml (default: beside the rules)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--keep-params", action="store_true", help="keep paramList values (bind values) in alerts"
    )


def run(args: argparse.Namespace) -> int:
    from engine.cli.events_input import read_events
    from engine.rules import build_engine

    err = sys.stderr
    wired = build_engine(
        args.rules, lists_path=args.lists, keep_params=args.keep_params, require_rules=False
    )
    loaded = wired.loaded
    load_errors = [p for p in loaded.problems if p.level == "error"]
    for problem in load_errors:
        print(problem, file=err)
    if not loaded.rules:
        print(f"dasalert eval: no rules loaded from {args.rules}", file=err)
        return 1

    read = read_events(
        # built on first need: a plain JSON file never touches AWS
        args.files,
        keys=lambda: key_provider(args),
        resource_id=args.resource_id,
        decoder_options=decoder_options(args),
    )
    for problem in read.problems:
        print(problem, file=err)

    result = wired.engine.process(read.events)
    alerts = sorted(result.alerts, key=lambda a: (a.first_seen or "", a.rule_id))
    out = sys.stdout
    if args.format == "json":
        for alert in alerts:
            out.write(json.dumps(alert.to_dict(), ensure_ascii=False, default=str) + "\n")
    else:
        write_table(alerts, out)
    out.flush()
    for line in sorted(set(result.errors))[:10]:
        print(f"rule error: {line}", file=err)
    print(
        f"dasalert eval: {result.events} events"
        + (f" from {read.records} records" if read.records else "")
        + f", {result.matched} matches, {len(alerts)} alerts, {result.rule_errors} rule errors"
        + (f", {len(read.problems)} input problems" if read.problems else ""),
        file=err,
    )
    return 1 if (load_errors or read.problems) else 0


def _clean(text: Any) -> str:
    """One terminal-safe line: event text can hold newlines and escape sequences."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def write_table(alerts: list[Any], out: TextIO) -> None:
    if not alerts:
        out.write("no alerts\n")
        return
    rule_w = min(_RULE_COL_MAX, max(4, *(len(a.rule_id) for a in alerts)))
    sev, rule, count, seen = "SEVERITY", "RULE", "COUNT", "FIRST SEEN"
    out.write(f"{sev:<{_SEVERITY_COL}}  {rule:<{rule_w}}  {count:>5}  {seen:<20}  TITLE\n")
    for a in alerts:
        seen = (a.first_seen or "-")[:19].replace("T", " ")
        rule = a.rule_id if len(a.rule_id) <= rule_w else a.rule_id[: rule_w - 1] + "…"
        kind = "" if a.kind == "rule" else f"[{a.kind}] "
        out.write(
            f"{a.severity.upper():<{_SEVERITY_COL}}  {rule:<{rule_w}}  {a.count:>5}  "
            f"{seen:<20}  {kind}{_clean(a.title)}\n"
        )
