"""``dasalert run``: the whole pipeline on captured records, locally, alerts on the console.

Exactly the code the Lambda runs (``engine.pipeline.batch.Pipeline``): decode, normalize, evaluate,
suppress, route, send — with the console as the only output and state in memory. What the rule
pack alerts on here is what it alerts on in production.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from typing import Any, TextIO

from engine.cli._input import add_input_arguments, decoder_options, key_provider

NAME = "run"
HELP = "run the full pipeline on captured DAS records and print the alerts"
DESCRIPTION = (
    "Decode Database Activity Stream records (Kinesis Lambda events, Firehose events or JSON "
    "lines of raw record payloads; '-' reads standard input), evaluate the rules, and print the "
    "alerts and a summary. Data keys come from AWS KMS (standard boto3 credential chain, "
    "AWS_ENDPOINT_URL) unless --local-key is given. Exit code: 0 when every record was "
    "processed, 1 when some record failed, 2 on a usage or configuration error."
)
BATCH = 500
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument(
        "--rules",
        metavar="PATH",
        action="append",
        default=None,
        help="rule file or directory; repeat to layer your folder over the shipped pack "
        "(default: $DASALERT_RULES, path-separated, or ./rules)",
    )
    parser.add_argument("--lists", metavar="PATH", help="lists.yaml (default: beside the rules)")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: an alert table and a summary; json: one alert per line, summary on stderr",
    )


def run(args: argparse.Namespace) -> int:
    err, out = sys.stderr, sys.stdout
    try:
        pipeline, n_rules = _pipeline(args, out)
    except (OSError, ValueError) as exc:  # ConfigError is a ValueError
        print(f"dasalert run: {exc}", file=err)
        return 2
    from engine.das.sources import iter_records_from_file
    from engine.pipeline.batch import PERMANENT, TRANSIENT, chunks, summarize

    totals: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    for path in args.files:
        try:
            for batch in chunks(iter_records_from_file(path), BATCH):
                result = pipeline.run(batch)
                s = summarize(result)
                for key in ("records", "events", "heartbeats", "alerts", "kms_calls"):
                    totals[key] += s[key]
                totals["failed"] += s["failed_transient"] + s["failed_permanent"]
                by_severity.update(s["alerts_by_severity"])
                by_reason.update(s["failed_by_reason"])
                for o in result.outcomes:
                    if o.status in (TRANSIENT, PERMANENT):
                        kind = "transient" if o.status == TRANSIENT else "permanent"
                        print(f"{o.record_id}: {o.reason} ({kind})", file=err)
        except BrokenPipeError:
            raise
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=err)
            totals["failed"] += 1
            by_reason["unreadable_file"] += 1
    _summary(
        err if args.format == "json" else out, args.format, n_rules, totals, by_severity, by_reason
    )
    return 1 if totals["failed"] else 0


def _pipeline(args: argparse.Namespace, out: TextIO) -> tuple[Any, int]:
    from engine.cli.pack import default_rules_path
    from engine.das.decoder import Decoder
    from engine.outputs.routing import Router
    from engine.pipeline.batch import Pipeline
    from engine.pipeline.env import ConfigError
    from engine.pipeline.resources import ResourceResolver
    from engine.pipeline.state import MemoryStateStore
    from engine.rules import RulesUnavailable, build_engine

    rules_path = args.rules or os.environ.get("DASALERT_RULES") or default_rules_path()
    state = MemoryStateStore()
    try:
        wired = build_engine(rules_path, state, lists_path=args.lists)
    except RulesUnavailable as exc:
        hint = (
            ""
            if args.rules
            else " (default: $DASALERT_RULES, else ./rules, else the installed starter pack;"
            " pass --rules DIR)"
        )
        raise ConfigError("--rules", f"{exc}{hint}") from exc
    loaded = wired.loaded
    for problem in loaded.problems:
        print(f"dasalert run: {problem}", file=sys.stderr)
    keys = key_provider(args)
    env = {
        "DASALERT_OUTPUTS": "console",
        "CONSOLE_FORMAT": "table" if args.format == "text" else "json",
    }
    pipeline = Pipeline(
        Decoder(keys, default_resource_id=args.resource_id, **decoder_options(args)),
        state=state,
        engine=wired.engine,
        router=Router.from_env(env, stream=out),
        dead_letters=_printed_dead_letters(),
        can_retry=False,
        # resource facts without network: names from DASALERT_RESOURCE_NAMES only
        resources=ResourceResolver.from_env(os.environ, None),
    )
    return pipeline, len(loaded.rules)


def _printed_dead_letters() -> Any:
    """Locally there is no queue: failed records are printed by ``run`` (with their reason), and
    an alert the console could not take is printed here, on stderr."""
    from engine.pipeline.dlq import DeadLetters

    class Printed(DeadLetters):
        def send(self, doc: dict[str, Any]) -> None:
            if doc.get("kind") == "undeliverable_alert":
                alert = doc.get("alert") or {}
                print(
                    f"alert {alert.get('id')} ({alert.get('rule_id')}) not delivered to "
                    f"{doc.get('output')}: {doc.get('reason')}",
                    file=sys.stderr,
                )

    return Printed()


def _summary(
    stream: TextIO,
    fmt: str,
    n_rules: int,
    totals: Counter[str],
    by_severity: Counter[str],
    by_reason: Counter[str],
) -> None:
    severities = {s: by_severity[s] for s in SEVERITY_ORDER if by_severity[s]}
    if fmt == "json":
        doc = {
            "rules": n_rules,
            **{k: totals[k] for k in ("records", "events", "heartbeats", "alerts", "failed")},
            "alerts_by_severity": severities,
            "failed_by_reason": dict(by_reason),
        }
        print(json.dumps({"summary": doc}), file=stream)
        return
    sev = ", ".join(f"{n} {s}" for s, n in severities.items()) or "none"
    print(file=stream)
    print(
        f"{totals['records']} records, {totals['events']} events, "
        f"{totals['heartbeats']} heartbeats, {n_rules} rules",
        file=stream,
    )
    print(f"{totals['alerts']} alerts: {sev}", file=stream)
    if totals["failed"]:
        reasons = ", ".join(f"{n} {r}" for r, n in by_reason.most_common())
        print(f"{totals['failed']} records failed: {reasons}", file=stream)
    else:
        print("0 records failed", file=stream)
