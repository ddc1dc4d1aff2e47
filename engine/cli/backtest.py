"""``dasalert backtest``: how often would these rules have fired on the archive, and on what?"""

from __future__ import annotations

import argparse
import sys
from typing import Any

NAME = "backtest"
HELP = "run a rule pack over archived events (S3 or local) and report what it would have raised"
DESCRIPTION = (
    "Evaluate the rules, stateful ones included, over archived activity events in event-time "
    "order with the in-memory state store, exactly as `dasalert eval` does. SOURCE is an "
    "s3://bucket/prefix/ archive written by the Firehose handler (only the partitions the pack "
    "can match and the time range needs are read, in parallel) or local files: archive objects "
    "(JSON lines, gzip or not) and every input `dasalert eval` reads. Reports per rule: alerts, "
    "alerts per day, top dedup/group keys, the first alerts and rule errors. --format json "
    "prints the alerts as `eval --format json` does, then one summary line. --compare BASELINE "
    "runs a second pack over the same events and prints what --rules adds and removes. Exit 0 "
    "even with alerts; 1 when a rule file does not load, a source cannot be read or the range "
    "is wrong."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="s3://bucket/prefix/ or files")
    parser.add_argument(
        "--rules",
        action="append",
        metavar="PATH",
        help="rule file or folder; repeat for several (default ./rules)",
    )
    parser.add_argument("--lists", metavar="PATH", help="lists.yaml (default: beside the rules)")
    parser.add_argument(
        "--from", dest="start", metavar="T", help="first event time: 2026-11-20, …T09:00Z, or 7d"
    )
    parser.add_argument("--to", dest="end", metavar="T", help="events before this time")
    parser.add_argument(
        "--compare",
        action="append",
        metavar="BASELINE",
        help="a baseline pack (e.g. the rules on main): print what --rules adds and removes",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--examples", type=int, default=3, help="alerts shown per rule (text)")
    parser.add_argument("--workers", type=int, default=None, help="parallel downloads (8)")
    parser.add_argument("--local-key", metavar="PATH", help="key for encrypted local inputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from engine.cli import backtest_run as bt

    err = sys.stderr
    try:
        return _run(args, bt)
    except bt.BacktestError as exc:
        print(f"dasalert backtest: error: {exc}", file=err)
        return 1


def _client() -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    # a fresh session reads the credential chain now (boto3's default session caches it)
    session = boto3.session.Session()
    return session.client("s3", config=BotoConfig(retries={"mode": "standard", "max_attempts": 5}))


def _run(args: argparse.Namespace, bt: Any) -> int:
    from engine.rules import build_engine

    err, out = sys.stderr, sys.stdout
    start, end = bt.time_range(args.start, args.end)
    rules = args.rules or ["rules"]
    candidate = build_engine(rules, lists_path=args.lists, require_rules=False)
    baselines = [
        build_engine(p, lists_path=args.lists, require_rules=False) for p in args.compare or []
    ]
    load_errors = [p for w in (candidate, *baselines) for p in w.loaded.errors]
    for problem in load_errors:
        print(problem, file=err)
    if not candidate.loaded.rules:
        raise bt.BacktestError(f"no rules loaded from {', '.join(rules)}")

    actions = bt.pack_actions([candidate.ruleset, *(b.ruleset for b in baselines)])
    sources: list[Any] = []
    totals = bt.Totals()
    client = None
    for src in args.sources:
        if src.startswith("s3://"):
            client = client or _client()
            listing = bt.list_s3(client, src, actions, start, end)
            sources.extend(listing.sources)
            totals.pruned += listing.pruned
        else:
            sources.extend(bt.list_local([src]))
    keys = None
    if args.local_key:
        from engine.das.keys import LocalKeyProvider

        keys = lambda: LocalKeyProvider.from_file(args.local_key)  # noqa: E731
    packs = [bt.PackRun(",".join(rules), candidate.engine)]
    packs += [bt.PackRun(p, b.engine) for p, b in zip(args.compare or [], baselines, strict=True)]
    progress = None if args.quiet else bt.Progress(len(sources), err)
    bt.run_backtest(
        sources,
        packs,
        start=start,
        end=end,
        keys=keys,
        workers=args.workers or bt.env_workers(),
        progress=progress,
        totals=totals,
    )
    for line in totals.not_archive:
        print(f"skipped (not an archive object): {line}", file=err)
    for line in totals.problems[:20]:
        print(line, file=err)
    if len(totals.problems) > 20:
        print(f"… and {len(totals.problems) - 20} more input problems", file=err)

    ours = packs[0]
    if args.compare:
        changes = [c for base in packs[1:] for c in bt.compare(ours, base)]
        if args.format == "json":
            import json

            for c in changes:
                doc = {"change": c.kind, "alert": c.alert.to_dict()}
                if c.before is not None:
                    doc["baseline_count"] = c.before
                out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
        else:
            bt.write_compare(changes, out)
    elif args.format == "json":
        from engine.outputs.console import alert_order

        for alert in alert_order(list(ours.alerts.values())):
            out.write(bt.dump_alert(alert) + "\n")
    else:
        bt.write_text_report(ours, totals, out, examples=args.examples)
    if args.format == "json":
        import json

        doc = bt.summary(ours, totals)
        if args.compare:
            kinds = [c.kind for c in changes]
            doc["compare"] = {k: kinds.count(k) for k in ("added", "removed", "changed")}
        out.write(json.dumps({"summary": doc}, ensure_ascii=False) + "\n")
    out.flush()
    for line, n in sorted(ours.errors.items())[:10]:
        print(f"rule error ({n}×): {line}", file=err)
    failed = bool(load_errors or totals.problems)
    return 1 if failed else 0
