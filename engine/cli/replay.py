"""``dasalert replay``: deliver a batch Lambda gave up on, or a dead letter, through the real
pipeline and outputs — what was already sent is not sent again.

The pipeline is built exactly as the stream function builds it (``handlers._runtime.build``
with this environment: the rules, the outputs, the state table, the dead-letter queue), so a
replay is a Lambda redelivery run from a terminal. The logic lives in
``engine.pipeline.replay``; this module only reads the options and prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

NAME = "replay"
HELP = "re-process failed batches and dead letters through the pipeline and the outputs, once"
DESCRIPTION = (
    "Re-process what the stream function could not finish: Lambda's on-failure objects "
    "(s3://BUCKET/KEY, or s3://BUCKET/PREFIX/ for every object under it; the S3 destination "
    "keeps the whole batch, the older SQS form only a range, read back from the stream while it "
    "holds it), dead letters (the DASALERT_DLQ_URL queue URL: each message is deleted once "
    "replayed; or a file with the message bodies), through the same pipeline and outputs as the "
    "Lambda, configured by the same environment (DASALERT_RULES, DASALERT_STATE_TABLE, "
    "SNS_TOPIC_ARN, SLACK_*, SECURITYHUB_ENABLED…). The state table's sent markers make it "
    "idempotent: an alert already delivered to an output is not sent to it again. Exit code: "
    "0 when everything was replayed, 1 when something failed (it is kept), 2 on a usage or "
    "configuration error."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="s3://BUCKET/KEY, s3://BUCKET/PREFIX/, an SQS queue URL, or a local JSON file",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="decode and evaluate, print the alerts, send nothing, change no state, delete "
        "no message",
    )
    parser.add_argument(
        "--state-table",
        metavar="TABLE",
        help="the stack's DynamoDB state table (default: $DASALERT_STATE_TABLE); required "
        "unless --dry-run: it holds what was already sent",
    )
    parser.add_argument(
        "--rules",
        metavar="PATH",
        help="the rule pack the stack runs (default: $DASALERT_RULES, else ./rules or the "
        "shipped pack)",
    )


def run(args: argparse.Namespace) -> int:
    from engine.pipeline.replay import Replayer, ReplayError, Summary, read_source

    out, err = sys.stdout, sys.stderr
    env = _environment(args)
    if not args.dry_run and not env.get("DASALERT_STATE_TABLE"):
        print(
            "dasalert replay: no state table: set DASALERT_STATE_TABLE or --state-table to the "
            "stack's (StateTableName output). Without it, what was already sent cannot be "
            "known and alerts would be sent twice; --dry-run needs none",
            file=err,
        )
        return 2
    try:
        pipeline = _pipeline(env, dry_run=args.dry_run)
    except Exception as exc:  # configuration, rules, credentials, a secret that cannot be read
        print(f"dasalert replay: cannot start the pipeline: {_plain(exc)}", file=err)
        return 2

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    replayer = Replayer(pipeline, dry_run=args.dry_run, kinesis=lambda: _client("kinesis"), say=say)
    total = Summary()
    unreadable = 0
    for source in args.sources:
        try:
            for unit in read_source(source, _client):
                total.add(replayer.replay(unit))
        except ReplayError as exc:
            print(f"dasalert replay: {exc}", file=err)
            unreadable += 1
    verb = "evaluated (dry run, nothing sent)" if args.dry_run else "replayed"
    kept = total.units_failed + unreadable
    print(
        f"{verb}: {total.units} sources, {total.line()}"
        + (f"; {kept} not replayed (kept)" if kept else ""),
        file=out,
    )
    return 1 if kept else 0


def _environment(args: argparse.Namespace) -> dict[str, str]:
    from engine.cli.pack import default_rules_path

    env = dict(os.environ)
    if args.state_table:
        env["DASALERT_STATE_TABLE"] = args.state_table
    if args.rules:
        env["DASALERT_RULES"] = args.rules
    if not env.get("DASALERT_RULES"):  # unset or empty: the shipped pack
        env["DASALERT_RULES"] = default_rules_path()
    if args.dry_run:
        # evaluate against empty state (the stack's counters and windows stay untouched), no
        # dead-letter queue, and no output: alerts are only printed
        env.update({"DASALERT_STATE_TABLE": "", "DASALERT_DLQ_URL": "", "DASALERT_OUTPUTS": ""})
        for name in ("SNS_TOPIC_ARN", "SLACK_WEBHOOK_SECRET_ARN", "SLACK_BOT_TOKEN_SECRET_ARN"):
            env[name] = ""
        env["SECURITYHUB_ENABLED"] = "false"
    return env


def _pipeline(env: dict[str, str], *, dry_run: bool) -> Any:
    from handlers._runtime import KINESIS, build

    rt = build(KINESIS, env)
    pipeline = rt.pipeline
    if dry_run:
        pipeline.router = None
        pipeline.resources = None
    return pipeline


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def _plain(exc: Exception) -> str:
    from engine.pipeline.replay import aws_error

    try:
        import botocore.exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return str(exc)
    if isinstance(exc, bx.BotoCoreError | bx.ClientError):
        return str(aws_error("AWS", exc))
    return str(exc)
