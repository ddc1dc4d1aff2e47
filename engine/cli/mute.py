"""``dasalert mute``: add, list and remove responders' mutes in the state table.

The same validation as the Slack interaction handler (``engine.pipeline.mutes.make_mute``), the
same table the stream function reads (``DASALERT_STATE_TABLE`` or ``--table``), over the
standard boto3 credential chain (``AWS_ENDPOINT_URL`` reaches a local DynamoDB or moto).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
import time
from typing import Any

NAME = "mute"
HELP = "mute a rule (or one of its keys) for a while, list or remove mutes"
DESCRIPTION = (
    "Mutes live in the state table the stream function reads (DASALERT_STATE_TABLE, or --table) "
    "and take effect from its next batch. Exit code: 0 done, 1 nothing to remove or the table "
    "failed, 2 a usage error (an invalid rule id, duration or reason; no table)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--table", metavar="NAME", help="the state table (default: $DASALERT_STATE_TABLE)"
    )
    sub = parser.add_subparsers(dest="mute_command", metavar="ACTION")
    sub.required = True
    add = sub.add_parser(
        "add", parents=[common], help="mute RULE (for --key only, or all its alerts)"
    )
    add.add_argument("rule", metavar="RULE", help="the rule id")
    add.add_argument("--key", help="the alert's dedup key or threshold group (as it shows it)")
    add.add_argument("--for", dest="duration", required=True, help="how long: 30m, 24h, 7d")
    add.add_argument("--reason", required=True, help="why (the next responder reads it)")
    add.add_argument("--who", help="who mutes (default: cli:$USER)")
    add.add_argument("--false-positive", action="store_true", help="record it as a false positive")
    ls = sub.add_parser("list", parents=[common], help="the mutes in force")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.add_argument("--all", action="store_true", help="ended mutes too (until the TTL)")
    rm = sub.add_parser("remove", parents=[common], help="end the mute of RULE (and --key) now")
    rm.add_argument("rule", metavar="RULE")
    rm.add_argument("--key", help="the key the mute was added with")


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _store(table: str) -> Any:
    import boto3
    from botocore.config import Config

    from engine.pipeline.state_dynamodb import DynamoDBStateStore

    client = boto3.client(
        "dynamodb",
        config=Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard"}),
    )
    return DynamoDBStateStore(table, client)


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError

    from engine.pipeline.mutes import MuteError
    from engine.pipeline.state import StateError

    err = sys.stderr
    table = args.table or os.environ.get("DASALERT_STATE_TABLE", "").strip()
    if not table:
        print("dasalert mute: no state table: pass --table or set DASALERT_STATE_TABLE", file=err)
        return 2
    try:
        store = _store(table)
        return int(_ACTIONS[args.mute_command](args, store))
    except MuteError as exc:
        print(f"dasalert mute: {exc}", file=err)
        return 2
    except StateError as exc:
        print(f"dasalert mute: the state table failed: {exc}", file=err)
        return 1
    except BotoCoreError as exc:  # no region, no credentials: before any call is made
        print(f"dasalert mute: AWS is not configured: {exc}", file=err)
        return 2


def _add(args: argparse.Namespace, store: Any) -> int:
    from engine.pipeline.mutes import (
        MuteRequest,
        canonical_key,
        make_mute,
        parse_duration,
        store_mute,
    )

    who = args.who or f"cli:{getpass.getuser()}"
    kind = "false_positive" if args.false_positive else "mute"
    req = MuteRequest(
        args.rule, canonical_key(args.key), parse_duration(args.duration), who, args.reason, kind
    )
    mute = make_mute(req, time.time())
    store_mute(store, mute)
    scope = f"key {mute.key}" if mute.key is not None else "every key"
    print(f"muted {mute.rule_id} ({scope}) until {_utc(mute.until)} by {mute.who}: {mute.reason}")
    return 0


def _list(args: argparse.Namespace, store: Any) -> int:
    from engine.pipeline.mutes import active_mutes

    mutes = store.list_mutes() if args.all else active_mutes(store)
    mutes = sorted(mutes, key=lambda m: (m.until, m.rule_id))
    if args.format == "json":
        for m in mutes:
            doc = {
                "rule": m.rule_id,
                "key": m.key,
                "until": _utc(m.until),
                "until_epoch": m.until,
                "who": m.who,
                "reason": m.reason,
                "kind": m.kind,
                "created": _utc(m.created),
            }
            print(json.dumps(doc, sort_keys=True))
        return 0
    if not mutes:
        print("no mutes")
        return 0
    for m in mutes:
        key = m.key if m.key is not None else "*"
        fp = " (false positive)" if m.kind == "false_positive" else ""
        print(f"{m.rule_id}  {key}  until {_utc(m.until)}  by {m.who}{fp}: {m.reason}")
    return 0


def _remove(args: argparse.Namespace, store: Any) -> int:
    from engine.pipeline.mutes import canonical_key

    key = canonical_key(args.key)
    if store.delete_mute(args.rule, key):
        print(f"removed the mute of {args.rule} ({'key ' + key if key else 'every key'})")
        return 0
    print(f"dasalert mute: no mute of {args.rule} for that key", file=sys.stderr)
    return 1


_ACTIONS = {"add": _add, "list": _list, "remove": _remove}
