"""``dasalert eval FILE…``: run the rules over captured events and print the alerts.

``eval`` is the Lambda minus the outputs: the same ``Engine`` (rule set, dedup, thresholds,
redaction, titles) over the whole capture in one pass, and the same alert table as
``dasalert run`` and the console output (``engine.outputs.console.table_rows``), in the same
order. It accepts what ``run`` does not — plain events, JSON lines, decrypted records — and
sends nothing anywhere.
"""

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
    "record payloads (decrypted with --local-key, else AWS KMS). It is the Lambda minus the "
    "outputs: the same engine, dedup and thresholds in event time, the same alerts and titles "
    "as `dasalert run`, in the same table and order. Alerts go to standard output as a table "
    "or, with --format json, one JSON object per line; a summary goes to standard error. Exit 0 "
    "even "
    "when there are alerts; 1 when a rule file does not load or an input cannot be read."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument(
        "--rules",
        action="append",
        metavar="PATH",
        help="rules (default ./rules); repeat to layer your folder over the shipped pack",
    )
    parser.add_argument("--lists", metavar="PATH", help="lists.yaml (default: beside the rules)")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: the alert table (as `dasalert run` prints it); json: one alert per line "
        "(Alert.to_dict(), the SNS message body); the summary goes to stderr either way",
    )
    parser.add_argument(
        "--keep-params", action="store_true", help="keep paramList values (bind values) in alerts"
    )


def run(args: argparse.Namespace) -> int:
    from engine.cli.events_input import read_events
    from engine.rules import build_engine

    err = sys.stderr
    wired = build_engine(
        args.rules or ["rules"],
        lists_path=args.lists,
        keep_params=args.keep_params,
        require_rules=False,
    )
    loaded = wired.loaded
    load_errors = [p for p in loaded.problems if p.level == "error"]
    for problem in load_errors:
        print(problem, file=err)
    if not loaded.rules:
        print(f"dasalert eval: no rules loaded from {args.rules or 'rules'}", file=err)
        return 1

    read = read_events(
        # built on first need: a plain JSON file never touches AWS
        args.files,
        keys=lambda: key_provider(args),
        resource_id=args.resource_id,
        decoder_options=decoder_options(args),
    )
    for input_problem in read.problems:
        print(input_problem, file=err)

    result = wired.engine.process(read.events)
    from engine.outputs.console import alert_order

    alerts = alert_order(result.alerts)
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


def write_table(alerts: list[Any], out: TextIO) -> None:
    """The table ``dasalert run`` and the console output print: one renderer, one order."""
    from engine.outputs.console import table_rows

    if not alerts:
        out.write("no alerts\n")
        return
    out.write("\n".join(table_rows(alerts)) + "\n")
